//! A regular join of two streams (or of two views over one stream), as Nexmark's q3 and q20
//! write it: every row of either side meets every row of the other side with the same key,
//! whenever each came.
//!
//! Both sides are append-only, so the join's output is too: a tick's new left rows meet the
//! right rows kept so far and the tick's new right rows, and the tick's new right rows meet
//! the left rows kept so far. Each side's rows are kept by their join key
//! (`keyed_rows.rs`), so a tick looks up the rows its keys meet rather than joining with
//! everything kept. As in Flink without a state TTL, the kept rows grow with the stream.
//!
//! The query is split on its logical plan, once: each side becomes a plan of its own over the
//! stream's micro-batch table, and in the query the join reads two tables (one per side, with
//! the side's columns and name) that each tick fills with the rows to join. Over the join, the
//! query may do what its shape keeps right when it runs twice a tick, once over each half of
//! what the tick's rows meet: map rows one by one, aggregate them (the partial states of
//! both halves are folded in), or rank them (a Top-N); not union or join them again.

use super::interval_join::{self, Expiry};
use super::keyed_rows::KeyedRows;
use super::micro_batch::MicroBatchTable;
use super::tick_plan::physical_plan;
use crate::error::EngineError;
use datafusion::arrow::array::{Array, BooleanArray, RecordBatch};
use datafusion::arrow::compute::{concat_batches, filter_record_batch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::datasource::provider_as_source;
use datafusion::execution::session_state::SessionState;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Expr, JoinType, LogicalPlan, LogicalPlanBuilder};
use datafusion::physical_plan::collect;
use futures::future::BoxFuture;
use std::sync::Arc;

/// One side of the join: its plan over the stream, the table the join reads it from, and
/// its rows kept so far by key.
pub(crate) struct JoinSide {
    /// The name the query gives the side (`B` in `FROM bid B JOIN …`; the names of its
    /// sides, for a side that is a join itself).
    pub(crate) name: String,
    /// The side's plan: over the stream's micro-batch tables, or, when the side is an INNER
    /// join of streams itself (`inner`), over that join's tables.
    pub(crate) plan: LogicalPlan,
    /// A side that is an INNER join of streams (a join of three streams, Nexmark's q23): its
    /// new rows each tick are the pairs that join makes, through `plan`.
    pub(crate) inner: Option<Box<StreamJoin>>,
    pub(crate) table: Arc<MicroBatchTable>,
    key_columns: Vec<usize>,
    kept: Option<KeyedRows>,
    /// In an interval join, which kept rows the watermark makes unreachable.
    expiry: Option<Expiry>,
}

/// What the join reads in one run: its left table's rows and its right table's.
pub(crate) type JoinInput = (Vec<RecordBatch>, Vec<RecordBatch>);

/// How a join of streams meets rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meeting {
    /// INNER: the pairs; append-only.
    Inner,
    /// A semi join (`IN`, `EXISTS`): each left row goes out once, when it first meets a
    /// right row; the left rows kept are those that have met none yet.
    Semi,
    /// LEFT, RIGHT, FULL: the pairs, and the rows of a padded side that meet nothing yet.
    Outer { pad_left: bool, pad_right: bool },
    /// NOT EXISTS: the left rows that meet nothing yet.
    Anti,
}

/// The two sides of a stream join.
pub(crate) struct StreamJoin {
    pub(crate) left: JoinSide,
    pub(crate) right: JoinSide,
    meeting: Meeting,
    /// The watermark an interval join last dropped kept rows at: until it moves, there is
    /// nothing more to drop (and no kept row to read).
    cleaned_at: Option<i64>,
    /// An input is updating (a changelog source): rows come and go on either side.
    updating_inputs: bool,
}

/// One run of the query over the join in a tick: the rows its tables hold, whether the join
/// runs turned INNER (the pairs only), and the weight of what it gives (-1: retracted).
pub(crate) struct JoinRun {
    pub(crate) input: JoinInput,
    pub(crate) pairs_only: bool,
    pub(crate) weight: i64,
}

/// Whether `plan` reads one of the stream relations.
pub(crate) fn reads_stream(plan: &LogicalPlan, relations: &[&str]) -> bool {
    let mut found = false;
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            found |= relations.contains(&scan.table_name.table());
        }
        Ok(if found {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    });
    found
}

fn not_supported(why: &str) -> EngineError {
    EngineError::NotSupported {
        message: format!(
            "this query joins streams (or two views over one): Eddy runs INNER, LEFT, RIGHT, \
             FULL, semi (IN, EXISTS) and anti (NOT EXISTS) joins of two streams on equal keys; \
             {why}"
        ),
    }
}

/// Splits a query whose only meeting of stream reads is one join: returns the query with
/// the join's sides replaced by their tables, and the sides. `None` when no join meets
/// streams on both sides.
pub(crate) fn split(
    plan: LogicalPlan,
    relations: &[&str],
    event_time: Option<&str>,
) -> Result<(LogicalPlan, Option<StreamJoin>), EngineError> {
    let mut joins = 0;
    plan.apply(|node| {
        if let LogicalPlan::Join(join) = node {
            if reads_stream(&join.left, relations) && reads_stream(&join.right, relations) {
                joins += 1;
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    if joins == 0 {
        return Ok((plan, None));
    }
    // Above the join: rows mapped one by one, nothing else.
    let mut above_ok = true;
    let mut found: Option<StreamJoin> = None;
    let mut error: Option<EngineError> = None;
    let rewritten = plan
        .transform_down(|node| {
            if found.is_some() || error.is_some() {
                return Ok(Transformed::no(node));
            }
            match &node {
                LogicalPlan::Join(join)
                    if reads_stream(&join.left, relations)
                        && reads_stream(&join.right, relations) =>
                {
                    match join_sides(join, relations, event_time) {
                        Ok((sides, replaced)) => {
                            found = Some(sides);
                            Ok(Transformed::new(replaced, true, TreeNodeRecursion::Jump))
                        }
                        Err(e) => {
                            error = Some(e);
                            Ok(Transformed::no(node))
                        }
                    }
                }
                // What the query's shape handles over the join's rows: rows mapped one by
                // one, an aggregate, a Top-N (checked by the shape).
                LogicalPlan::Projection(_)
                | LogicalPlan::Filter(_)
                | LogicalPlan::SubqueryAlias(_)
                | LogicalPlan::Aggregate(_)
                | LogicalPlan::Distinct(_)
                | LogicalPlan::Window(_)
                | LogicalPlan::Sort(_)
                | LogicalPlan::Limit(_) => Ok(Transformed::no(node)),
                _ => {
                    above_ok = false;
                    Ok(Transformed::new(node, false, TreeNodeRecursion::Stop))
                }
            }
        })?
        .data;
    if let Some(error) = error {
        return Err(error);
    }
    if !above_ok || found.is_none() {
        return Err(not_supported(
            "over the join this query unions or joins again, which Eddy does not run over a \
             join of streams yet",
        ));
    }
    Ok((rewritten, found))
}

/// The sides of a join of streams, and the join reading them from their tables. A side that
/// is an INNER join of streams itself is split the same way (`nested_side`).
fn join_sides(
    join: &datafusion::logical_expr::logical_plan::Join,
    relations: &[&str],
    event_time: Option<&str>,
) -> Result<(StreamJoin, LogicalPlan), EngineError> {
    let meeting = match join.join_type {
        JoinType::Inner => Meeting::Inner,
        // `IN (SELECT …)` and `EXISTS (…)`: the rows of the outer query that meet one.
        JoinType::LeftSemi if join.filter.is_none() => Meeting::Semi,
        JoinType::LeftSemi => {
            return Err(not_supported(
                "an IN or EXISTS subquery over a stream is run on equal keys only; this one \
                 has other conditions",
            ))
        }
        JoinType::Left | JoinType::Right | JoinType::Full | JoinType::LeftAnti
            if join.filter.is_some() =>
        {
            return Err(not_supported(&format!(
                "a {} join of streams is run on equal keys only (whether a row has met a \
                 match is kept by key); this one has other conditions: {}",
                join.join_type,
                join.filter
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            )))
        }
        JoinType::LeftAnti if join.null_aware => {
            return Err(not_supported(
                "NOT IN over a stream is not run: a NULL among the subquery's rows would \
                 retract every row; write NOT EXISTS",
            ))
        }
        JoinType::Left => Meeting::Outer {
            pad_left: true,
            pad_right: false,
        },
        JoinType::Right => Meeting::Outer {
            pad_left: false,
            pad_right: true,
        },
        JoinType::Full => Meeting::Outer {
            pad_left: true,
            pad_right: true,
        },
        JoinType::LeftAnti => Meeting::Anti,
        other => {
            return Err(not_supported(&format!(
                "a {other} join of streams is not run yet"
            )))
        }
    };
    if join.on.is_empty() {
        return Err(not_supported(
            "this join has no condition of equal keys (`ON a.k = b.k`) to keep rows by",
        ));
    }
    let key_index = |plan: &LogicalPlan, expr: &Expr| -> Result<usize, EngineError> {
        match expr {
            Expr::Column(column) => Ok(plan.schema().index_of_column(column)?),
            other => Err(not_supported(&format!(
                "its key `{other}` is an expression; compute it in a view or subquery of \
                 the side first"
            ))),
        }
    };
    let mut left_keys = Vec::with_capacity(join.on.len());
    let mut right_keys = Vec::with_capacity(join.on.len());
    for (l, r) in &join.on {
        left_keys.push(key_index(&join.left, l)?);
        right_keys.push(key_index(&join.right, r)?);
    }
    let (left_scan, mut left) = side(&join.left, left_keys, relations, event_time)?;
    let (right_scan, mut right) = side(&join.right, right_keys, relations, event_time)?;
    let nested = left.inner.is_some() || right.inner.is_some();
    if nested && meeting != Meeting::Inner {
        return Err(not_supported(&format!(
            "over a join of streams, another join of streams is run INNER only; this one is \
             a {}",
            join.join_type
        )));
    }
    // An INNER join bounding one side's event time by the other's: an interval join.
    if meeting == Meeting::Inner {
        if let Some((l, r)) =
            interval_join::expiries(join.filter.as_ref(), &join.left, &join.right, event_time)
        {
            left.expiry = Some(l);
            right.expiry = Some(r);
        }
    }
    let inputs = vec![left_scan, right_scan];
    let replaced = LogicalPlan::Join(join.clone())
        .with_new_exprs(LogicalPlan::Join(join.clone()).expressions(), inputs)?;
    Ok((
        StreamJoin {
            left,
            right,
            meeting,
            cleaned_at: None,
            updating_inputs: false,
        },
        replaced,
    ))
}

/// A side's plan and the scan the join reads it through: a table of the side's columns,
/// named as the side's columns are qualified (`B` in `FROM bid B JOIN …`).
fn side(
    plan: &LogicalPlan,
    key_columns: Vec<usize>,
    relations: &[&str],
    event_time: Option<&str>,
) -> Result<(LogicalPlan, JoinSide), EngineError> {
    if let Some((plan, inner)) = nested_side(plan, relations, event_time)? {
        return nested_scan(plan, inner, key_columns);
    }
    let schema = plan.schema();
    let mut qualifiers = schema.iter().map(|(q, _)| q.cloned());
    let qualifier = qualifiers.next().flatten();
    if qualifiers.any(|q| q != qualifier) {
        return Err(not_supported(
            "a side of it reads several tables; give it a view or a subquery of its own",
        ));
    }
    let Some(qualifier) = qualifier else {
        return Err(not_supported("a side of it has no name; give it an alias"));
    };
    let arrow: SchemaRef = Arc::new(schema.as_arrow().clone());
    let table = Arc::new(MicroBatchTable::new(arrow));
    let name = qualifier.to_string();
    let scan = LogicalPlanBuilder::scan(
        qualifier,
        provider_as_source(table.clone() as Arc<dyn TableProvider>),
        None,
    )?
    .build()?;
    Ok((
        scan,
        JoinSide {
            name,
            plan: plan.clone(),
            inner: None,
            table,
            key_columns,
            kept: None,
            expiry: None,
        },
    ))
}

/// A side that is an INNER join of streams, under projections and filters: the side's plan
/// over that join's tables, and the join. `None` for a side that joins no streams.
fn nested_side(
    plan: &LogicalPlan,
    relations: &[&str],
    event_time: Option<&str>,
) -> Result<Option<(LogicalPlan, StreamJoin)>, EngineError> {
    let mut joins = false;
    plan.apply(|node| {
        if let LogicalPlan::Join(join) = node {
            joins |= reads_stream(&join.left, relations) && reads_stream(&join.right, relations);
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    if !joins {
        return Ok(None);
    }
    if !super::updating_feed::row_wise_over_join(plan) {
        return Err(not_supported(
            "a side of it joins streams under something else than projections and filters",
        ));
    }
    let mut found: Option<StreamJoin> = None;
    let mut error: Option<EngineError> = None;
    let rewritten = plan
        .clone()
        .transform_down(|node| {
            let LogicalPlan::Join(join) = &node else {
                return Ok(Transformed::no(node));
            };
            match join_sides(join, relations, event_time) {
                Ok((inner, replaced)) => {
                    found = Some(inner);
                    Ok(Transformed::new(replaced, true, TreeNodeRecursion::Jump))
                }
                Err(e) => {
                    error = Some(e);
                    Ok(Transformed::new(node, false, TreeNodeRecursion::Stop))
                }
            }
        })?
        .data;
    if let Some(error) = error {
        return Err(error);
    }
    let Some(inner) = found else {
        return Ok(None);
    };
    if inner.meeting != Meeting::Inner || inner.is_interval() {
        return Err(not_supported(
            "a join of streams as a side of another is run when it is a regular INNER join",
        ));
    }
    Ok(Some((rewritten, inner)))
}

/// The scan the outer join reads a joined side through: a table of the side's columns,
/// numbered, and a projection that gives them back their qualified names (a joined side's
/// columns come from several tables).
fn nested_scan(
    plan: LogicalPlan,
    inner: StreamJoin,
    key_columns: Vec<usize>,
) -> Result<(LogicalPlan, JoinSide), EngineError> {
    let mut fields = Vec::with_capacity(plan.schema().fields().len());
    let mut named = Vec::with_capacity(fields.capacity());
    for (i, (qualifier, field)) in plan.schema().iter().enumerate() {
        let number = format!("c{i}");
        fields.push(field.as_ref().clone().with_name(&number));
        named.push(
            Expr::Column(datafusion::common::Column::new(Some(NESTED), number))
                .alias_qualified(qualifier.cloned(), field.name()),
        );
    }
    let table = Arc::new(MicroBatchTable::new(Arc::new(
        datafusion::arrow::datatypes::Schema::new(fields),
    )));
    let scan = LogicalPlanBuilder::scan(
        NESTED,
        provider_as_source(table.clone() as Arc<dyn TableProvider>),
        None,
    )?
    .project(named)?
    .build()?;
    let name = format!("({} ⋈ {})", inner.left.name, inner.right.name);
    Ok((
        scan,
        JoinSide {
            name,
            plan,
            inner: Some(Box::new(inner)),
            table,
            key_columns,
            kept: None,
            expiry: None,
        },
    ))
}

/// The name a joined side's table is scanned by.
const NESTED: &str = "__eddy_joined";

impl JoinSide {
    /// The kept rows this side's join keys in `rows` (rows of the other side, keyed by
    /// `their_keys`) meet.
    fn meeting(
        &self,
        rows: &RecordBatch,
        their_keys: &[usize],
    ) -> Result<Vec<RecordBatch>, EngineError> {
        let Some(kept) = &self.kept else {
            return Ok(Vec::new());
        };
        // The other side's keys, in this side's key form.
        let probe = rows.project(their_keys)?;
        let keys = kept.keys_of_columns(probe.columns())?;
        // Each key once: many new rows may share one, and each kept row must come once.
        let mut distinct = hashbrown::HashSet::new();
        let keys = keys
            .iter()
            .map(|k| k.data())
            .filter(|k| distinct.insert(*k));
        Ok(vec![kept.get_all(keys)?])
    }

    /// Takes out the kept rows the keys of `rows` (the other side's, at `their_keys`) meet.
    fn take_meeting(
        &mut self,
        rows: &RecordBatch,
        their_keys: &[usize],
    ) -> Result<Vec<RecordBatch>, EngineError> {
        let Some(kept) = &mut self.kept else {
            return Ok(Vec::new());
        };
        let keys = kept.keys_of_columns(rows.project(their_keys)?.columns())?;
        Ok(vec![kept.take_all(keys.iter().map(|k| k.data()))?])
    }

    /// Takes one kept row out for each of `rows` (rows that went: an updating input's
    /// retractions); a row not kept (its insert came before the reading started) takes
    /// nothing out.
    fn retract(&mut self, rows: &RecordBatch) -> Result<(), EngineError> {
        let Some(kept) = &mut self.kept else {
            return Ok(());
        };
        if rows.num_rows() == 0 {
            return Ok(());
        }
        let keys = kept.keys_of(rows)?;
        let mut distinct = hashbrown::HashSet::new();
        let taken = kept.take_all(
            keys.iter()
                .map(|k| k.data())
                .filter(|k| distinct.insert(*k)),
        )?;
        // Whole rows compared, one kept row out per row that went.
        let converter = RowConverter::new(
            rows.schema()
                .fields()
                .iter()
                .map(|f| SortField::new(f.data_type().clone()))
                .collect(),
        )?;
        let gone = converter.convert_columns(rows.columns())?;
        let had = converter.convert_columns(taken.columns())?;
        let mut to_remove: hashbrown::HashMap<&[u8], usize> = hashbrown::HashMap::new();
        for row in gone.iter() {
            *to_remove.entry(row.data()).or_default() += 1;
        }
        let stay: BooleanArray = had
            .iter()
            .map(|row| match to_remove.get_mut(row.data()) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    Some(false)
                }
                _ => Some(true),
            })
            .collect();
        let stay = filter_record_batch(&taken, &stay)?;
        if stay.num_rows() > 0 {
            kept.insert(stay)?;
        }
        Ok(())
    }

    fn keep(&mut self, rows: &RecordBatch) -> Result<(), EngineError> {
        let kept = match &mut self.kept {
            Some(kept) => kept,
            None => self
                .kept
                .insert(KeyedRows::new(rows.schema(), self.key_columns.clone())?),
        };
        kept.insert(rows.clone())
    }

    pub(crate) fn rows_kept(&self) -> usize {
        self.kept.as_ref().map_or(0, KeyedRows::len)
            + self.inner.as_ref().map_or(0, |inner| inner.rows_kept())
    }

    fn bytes(&self) -> usize {
        self.kept.as_ref().map_or(0, KeyedRows::bytes)
            + self.inner.as_ref().map_or(0, |inner| inner.bytes())
    }

    /// The side's new rows in a tick (the micro-batch tables filled): its plan's rows, or,
    /// for a side that is a join of streams, the pairs that join makes of its sides' new rows
    /// and kept rows, through the side's plan.
    pub(crate) fn new_rows<'a>(
        &'a mut self,
        state: &'a SessionState,
        task: Arc<TaskContext>,
    ) -> BoxFuture<'a, Result<Vec<RecordBatch>, EngineError>> {
        Box::pin(async move {
            let Some(inner) = &mut self.inner else {
                let plan = physical_plan(state, &self.plan).await?;
                return Ok(collect(plan, task).await?);
            };
            let left = inner.left.new_rows(state, task.clone()).await?;
            let right = inner.right.new_rows(state, task.clone()).await?;
            let mut rows = Vec::new();
            for run in inner.inputs(left, right)? {
                let (left, right) = run.input;
                // A plan reads its tables' rows when it is made.
                inner.left.table.set(left);
                inner.right.table.set(right);
                let plan = physical_plan(state, &self.plan).await;
                inner.left.table.set(Vec::new());
                inner.right.table.set(Vec::new());
                rows.extend(collect(plan?, task.clone()).await?);
            }
            Ok(rows)
        })
    }

    /// The sides whose plans read the stream: this one, or the sides of its join.
    pub(crate) fn stream_sides(&self) -> Vec<&JoinSide> {
        match &self.inner {
            None => vec![self],
            Some(inner) => inner.stream_sides(),
        }
    }
}

impl StreamJoin {
    /// Whether this is an interval join: its kept rows go as the watermark passes, and rows
    /// behind the watermark are late for it.
    pub(crate) fn is_interval(&self) -> bool {
        self.left.expiry.is_some()
    }

    /// Drops the kept rows no row to come can meet, the watermark being `watermark` (an
    /// interval join); returns how many.
    pub(crate) fn clean(&mut self, watermark: i64) -> Result<usize, EngineError> {
        if self.cleaned_at.is_some_and(|at| at >= watermark) {
            return Ok(0);
        }
        self.cleaned_at = Some(watermark);
        let mut dropped = 0;
        for side in [&mut self.left, &mut self.right] {
            let (Some(expiry), Some(kept)) = (side.expiry, &mut side.kept) else {
                continue;
            };
            let before = watermark.saturating_add(expiry.offset_ms);
            let gone = kept.take_where(|batch| {
                let times = super::window::millis(batch.column(expiry.column))?;
                Ok((0..times.len())
                    .map(|i| Some(times.is_null(i) || times.value(i) < before))
                    .collect())
            })?;
            dropped += gone.iter().map(RecordBatch::num_rows).sum::<usize>();
        }
        Ok(dropped)
    }

    /// The join as EXPLAIN names it.
    pub(crate) fn describe(&self) -> &'static str {
        match self.meeting {
            Meeting::Inner if self.is_interval() => "INNER interval join",
            Meeting::Inner => "INNER join",
            Meeting::Semi => "semi join (IN, EXISTS)",
            Meeting::Outer {
                pad_left: true,
                pad_right: false,
            } => "LEFT join",
            Meeting::Outer {
                pad_left: false,
                pad_right: true,
            } => "RIGHT join",
            Meeting::Outer { .. } => "FULL join",
            Meeting::Anti => "anti join (NOT EXISTS)",
        }
    }

    /// Whether the join's result is updating (an outer or anti join, or an INNER join of an
    /// updating input): its runs are weighted.
    pub(crate) fn is_updating(&self) -> bool {
        self.updating_inputs || matches!(self.meeting, Meeting::Outer { .. } | Meeting::Anti)
    }

    /// Makes this join one of an updating input (a changelog source: rows come and go), if
    /// it can be: an INNER join, not an interval join, of no join of streams.
    pub(crate) fn over_updating_inputs(&mut self) -> Result<(), EngineError> {
        let nested = self.left.inner.is_some() || self.right.inner.is_some();
        if self.meeting != Meeting::Inner || self.is_interval() || nested {
            return Err(not_supported(
                "a join with an updating table (debezium-json, canal-json, upsert-kafka) is run \
                 when it is a regular INNER join of two streams",
            ));
        }
        self.updating_inputs = true;
        Ok(())
    }

    /// The runs of an INNER join whose inputs come and go, for a tick's rows that came
    /// (`*_came`) and went (`*_went`) on each side: the left side's changes against the right
    /// rows kept before the tick, then the right side's changes against the left rows kept
    /// after the left's changes (so a pair of two new rows counts once). Keeps the changes.
    pub(crate) fn weighted_inputs(
        &mut self,
        left_came: Vec<RecordBatch>,
        left_went: Vec<RecordBatch>,
        right_came: Vec<RecordBatch>,
        right_went: Vec<RecordBatch>,
    ) -> Result<Vec<JoinRun>, EngineError> {
        let left_schema = self.left.table.schema();
        let right_schema = self.right.table.schema();
        let left_came = concat_batches(&left_schema, &left_came)?;
        let left_went = concat_batches(&left_schema, &left_went)?;
        let right_came = concat_batches(&right_schema, &right_came)?;
        let right_went = concat_batches(&right_schema, &right_went)?;
        let run = |input: JoinInput, weight: i64| JoinRun {
            input,
            pairs_only: false,
            weight,
        };
        let right_for_came = self.right.meeting(&left_came, &self.left.key_columns)?;
        let right_for_went = self.right.meeting(&left_went, &self.left.key_columns)?;
        self.left.keep(&left_came)?;
        self.left.retract(&left_went)?;
        let left_for_came = self.left.meeting(&right_came, &self.right.key_columns)?;
        let left_for_went = self.left.meeting(&right_went, &self.right.key_columns)?;
        self.right.keep(&right_came)?;
        self.right.retract(&right_went)?;
        Ok(vec![
            run((vec![left_came], right_for_came), 1),
            run((vec![left_went], right_for_went), -1),
            run((left_for_came, vec![right_came]), 1),
            run((left_for_went, vec![right_went]), -1),
        ])
    }

    /// The runs of the query over the join for a tick's new rows of each side (`left`,
    /// `right`): new left rows against the right rows they meet (kept and new), then the
    /// left rows kept against the new right rows; for an updating join, also the rows that
    /// meet nothing yet and the retractions of those that met their first match. Keeps the
    /// new rows afterwards.
    pub(crate) fn inputs(
        &mut self,
        left: Vec<RecordBatch>,
        right: Vec<RecordBatch>,
    ) -> Result<Vec<JoinRun>, EngineError> {
        let left = concat_batches(&self.left.table.schema(), &left)?;
        let right = concat_batches(&self.right.table.schema(), &right)?;
        let run = |input: JoinInput| JoinRun {
            input,
            pairs_only: false,
            weight: 1,
        };
        let (pad_left, pad_right) = match self.meeting {
            Meeting::Inner => {
                let mut right_met = self.right.meeting(&left, &self.left.key_columns)?;
                right_met.push(right.clone());
                let left_met = self.left.meeting(&right, &self.right.key_columns)?;
                self.left.keep(&left)?;
                self.right.keep(&right)?;
                return Ok(vec![
                    run((vec![left], right_met)),
                    run((left_met, vec![right])),
                ]);
            }
            Meeting::Semi => {
                // The kept left rows the new right rows meet go out now, and are kept no
                // more; the new left rows that meet nothing yet are kept for right rows to
                // come.
                let mut right_met = self.right.meeting(&left, &self.left.key_columns)?;
                right_met.push(right.clone());
                let left_met = self.left.take_meeting(&right, &self.right.key_columns)?;
                let unmet = self.unmet(&left, &right_met)?;
                self.left.keep(&unmet)?;
                self.right.keep(&right)?;
                return Ok(vec![
                    run((vec![left], right_met)),
                    run((left_met, vec![right])),
                ]);
            }
            Meeting::Outer {
                pad_left,
                pad_right,
            } => (pad_left, pad_right),
            Meeting::Anti => (true, false),
        };
        let mut runs = Vec::new();
        if self.meeting != Meeting::Anti {
            let mut right_met = self.right.meeting(&left, &self.left.key_columns)?;
            right_met.push(right.clone());
            let left_met = self.left.meeting(&right, &self.right.key_columns)?;
            let pairs = |input: JoinInput| JoinRun {
                input,
                pairs_only: true,
                weight: 1,
            };
            runs.push(pairs((vec![left.clone()], right_met)));
            runs.push(pairs((left_met, vec![right.clone()])));
        }
        let retract = |input: JoinInput| JoinRun {
            input,
            pairs_only: false,
            weight: -1,
        };
        if pad_left {
            let lonely = lonely(&left, &self.left.key_columns, &self.right, &right)?;
            runs.push(run((vec![lonely], Vec::new())));
            let first_met = first_met(&self.left, &self.right, &right)?;
            runs.push(retract((first_met, Vec::new())));
        }
        if pad_right {
            let lonely = lonely(&right, &self.right.key_columns, &self.left, &left)?;
            runs.push(run((Vec::new(), vec![lonely])));
            let first_met = first_met(&self.right, &self.left, &left)?;
            runs.push(retract((Vec::new(), first_met)));
        }
        self.left.keep(&left)?;
        self.right.keep(&right)?;
        Ok(runs)
    }

    /// The rows of `left` whose key no row of `right` has (a NULL key meets nothing, and
    /// is not kept either).
    fn unmet(&self, left: &RecordBatch, right: &[RecordBatch]) -> Result<RecordBatch, EngineError> {
        let fields = self
            .left
            .key_columns
            .iter()
            .map(|&i| SortField::new(left.schema().field(i).data_type().clone()))
            .collect();
        let converter = RowConverter::new(fields)?;
        let mut right_keys = Vec::with_capacity(right.len());
        for batch in right {
            right_keys.push(
                converter.convert_columns(batch.project(&self.right.key_columns)?.columns())?,
            );
        }
        let mut met = hashbrown::HashSet::new();
        for keys in &right_keys {
            met.extend(keys.iter().map(|k| k.data()));
        }
        let left_keys =
            converter.convert_columns(left.project(&self.left.key_columns)?.columns())?;
        let key_columns = left.project(&self.left.key_columns)?;
        let keep: BooleanArray = (0..left.num_rows())
            .map(|row| {
                let null = key_columns.columns().iter().any(|c| c.is_null(row));
                Some(!null && !met.contains(left_keys.row(row).data()))
            })
            .collect();
        Ok(filter_record_batch(left, &keep)?)
    }

    pub(crate) fn rows_kept(&self) -> usize {
        self.left.rows_kept() + self.right.rows_kept()
    }

    /// Bytes the rows kept on both sides hold (and in the joins that are sides).
    pub(crate) fn bytes(&self) -> usize {
        self.left.bytes() + self.right.bytes()
    }

    /// Every side, each joined side followed by its own (for EXPLAIN).
    pub(crate) fn all_sides(&self) -> Vec<&JoinSide> {
        let mut sides = Vec::new();
        for side in [&self.left, &self.right] {
            sides.push(side);
            if let Some(inner) = &side.inner {
                sides.extend(inner.all_sides());
            }
        }
        sides
    }

    /// The sides whose plans read the stream, through the joins that are sides.
    pub(crate) fn stream_sides(&self) -> Vec<&JoinSide> {
        let mut sides = self.left.stream_sides();
        sides.extend(self.right.stream_sides());
        sides
    }

    /// Drops the kept rows of either side that came before `written_before` (a state TTL):
    /// rows that come later do not meet them. An outer or anti join keeps its rows: whether a
    /// row has met a match is known by the other side's rows of its key, so dropping those
    /// would make a later match retract a padded row that never went out.
    pub(crate) fn expire(
        &mut self,
        written_before: std::time::Instant,
    ) -> Result<usize, EngineError> {
        if self.is_updating() {
            return Ok(0);
        }
        let mut dropped = 0;
        for side in [&mut self.left, &mut self.right] {
            if let Some(kept) = &mut side.kept {
                dropped += kept.expire(written_before)?;
            }
            if let Some(inner) = &mut side.inner {
                dropped += inner.expire(written_before)?;
            }
        }
        Ok(dropped)
    }
}

/// The rows of `rows` (a side's new rows, keyed at `keys`) that meet no row of `other`, kept
/// or among its new rows `other_new`. A NULL key meets nothing.
fn lonely(
    rows: &RecordBatch,
    keys: &[usize],
    other: &JoinSide,
    other_new: &RecordBatch,
) -> Result<RecordBatch, EngineError> {
    let probe = rows.project(keys)?;
    let fields = probe
        .schema()
        .fields()
        .iter()
        .map(|f| SortField::new(f.data_type().clone()))
        .collect();
    let converter = RowConverter::new(fields)?;
    let own = converter.convert_columns(probe.columns())?;
    let theirs = converter.convert_columns(other_new.project(&other.key_columns)?.columns())?;
    let met_new: hashbrown::HashSet<&[u8]> = theirs.iter().map(|k| k.data()).collect();
    let kept = match &other.kept {
        Some(kept) => Some((kept, kept.keys_of_columns(probe.columns())?)),
        None => None,
    };
    let alone: BooleanArray = (0..rows.num_rows())
        .map(|row| {
            let null = probe.columns().iter().any(|c| c.is_null(row));
            let met = met_new.contains(own.row(row).data())
                || kept
                    .as_ref()
                    .is_some_and(|(kept, keys)| kept.contains(keys.row(row).data()));
            Some(null || !met)
        })
        .collect();
    Ok(filter_record_batch(rows, &alone)?)
}

/// The kept rows of `own` that met no row of `other` until now and meet one of its new rows
/// `other_new`: their padded rows (an anti join's rows) are retracted.
fn first_met(
    own: &JoinSide,
    other: &JoinSide,
    other_new: &RecordBatch,
) -> Result<Vec<RecordBatch>, EngineError> {
    let Some(kept) = &own.kept else {
        return Ok(Vec::new());
    };
    let probe = other_new.project(&other.key_columns)?;
    let own_keys = kept.keys_of_columns(probe.columns())?;
    let met_before = match &other.kept {
        Some(their) => Some((their, their.keys_of_columns(probe.columns())?)),
        None => None,
    };
    let mut first = hashbrown::HashSet::new();
    for row in 0..probe.num_rows() {
        if probe.columns().iter().any(|c| c.is_null(row)) {
            continue;
        }
        let before = met_before
            .as_ref()
            .is_some_and(|(their, keys)| their.contains(keys.row(row).data()));
        if !before {
            first.insert(own_keys.row(row).data());
        }
    }
    if first.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![kept.get_all(first.into_iter())?])
}

/// `plan` with the join of the two side tables turned INNER: the pairs its rows make, without
/// the padded rows (the runs of an outer join that give pairs only).
pub(crate) fn pairs_only(
    plan: &LogicalPlan,
    join: &StreamJoin,
) -> Result<LogicalPlan, EngineError> {
    let is_side = |plan: &LogicalPlan, side: &JoinSide| match plan {
        LogicalPlan::TableScan(scan) => datafusion::datasource::source_as_provider(&scan.source)
            .is_ok_and(|p| std::ptr::addr_eq(Arc::as_ptr(&p), Arc::as_ptr(&side.table))),
        _ => false,
    };
    Ok(plan
        .clone()
        .transform_up(|node| match node {
            LogicalPlan::Join(j)
                if is_side(&j.left, &join.left) && is_side(&j.right, &join.right) =>
            {
                let inner = datafusion::logical_expr::logical_plan::Join::try_new(
                    j.left,
                    j.right,
                    j.on,
                    j.filter,
                    JoinType::Inner,
                    j.join_constraint,
                    j.null_equality,
                    false,
                )?;
                Ok(Transformed::yes(LogicalPlan::Join(inner)))
            }
            other => Ok(Transformed::yes(other.recompute_schema()?)),
        })?
        .data)
}
