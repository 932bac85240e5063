//! The connectors a `CREATE TABLE … WITH ('connector' = '…')` can name. Adding a connector
//! is one module implementing [`Connector`] and one line in [`CONNECTORS`].

use super::connector::Connector;
use super::{blackhole, datagen, filesystem, kafka, nexmark, print, socket};
use crate::error::EngineError;

/// Every connector, in the order errors list them.
const CONNECTORS: &[&dyn Connector] = &[
    &filesystem::Filesystem,
    &datagen::Datagen,
    &socket::Socket,
    &nexmark::Nexmark,
    &kafka::Kafka,
    &kafka::UpsertKafka,
    &blackhole::Blackhole,
    &print::Print,
];

/// The connector named `name` (case-insensitive).
pub(crate) fn connector(name: &str) -> Result<&'static dyn Connector, EngineError> {
    CONNECTORS
        .iter()
        .copied()
        .find(|connector| connector.name().eq_ignore_ascii_case(name.trim()))
        .ok_or_else(|| EngineError::NotSupported {
            message: format!(
                "connector '{name}' is not supported; the connectors are: {}",
                CONNECTORS
                    .iter()
                    .map(|connector| connector.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_connector_is_found_by_its_name_and_an_unknown_one_lists_them() {
        for known in CONNECTORS {
            assert_eq!(
                connector(known.name()).map(|c| c.name()).ok(),
                Some(known.name())
            );
        }
        assert!(connector("DataGen").is_ok());
        let Err(error) = connector("pulsar") else {
            panic!("pulsar is not a connector");
        };
        assert!(
            error.to_string().contains(
                "the connectors are: filesystem, datagen, socket, nexmark, kafka, upsert-kafka, blackhole, print"
            ),
            "{error}"
        );
    }
}
