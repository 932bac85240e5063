//! `FROM (SELECT *, PROCTIME() AS p_time FROM bid) B GROUP BY …, TUMBLE(B.p_time, …)`, as
//! Nexmark's q12 writes it: the group window reads the subquery as a view declared for the
//! statement (a view over a stream is run each micro-batch before the window, as any view
//! the window reads).

use super::statement_relations::StatementRelations;
use super::Engine;
use crate::error::EngineError;
use crate::sql::group_windows::WindowedSubquery;
use std::future::Future;
use std::pin::Pin;

impl Engine {
    /// Declares the view of every subquery the statement's group windows read. The future is
    /// boxed and `Send` by its type: the views' statements run through [`Engine::run`],
    /// which calls this, and the compiler cannot see through the cycle.
    pub(super) fn declare_windowed_subqueries<'a>(
        &'a self,
        subqueries: &'a [WindowedSubquery],
        declared: &'a mut StatementRelations<'_>,
    ) -> Pin<Box<dyn Future<Output = Result<(), EngineError>> + Send + 'a>> {
        Box::pin(async move {
            for subquery in subqueries {
                let text = format!("CREATE VIEW {} AS {}", subquery.name, subquery.query);
                for statement in self.parse(&text)? {
                    // A view over a stream is kept as a stream view, as any CREATE VIEW.
                    self.run(statement, 0).await?;
                }
                declared.declared(&subquery.name);
            }
            Ok(())
        })
    }
}
