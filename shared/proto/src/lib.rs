//! Rust types generated from the protobuf contracts in `proto/` (see its `build.rs`).
//!
//! The contracts are the source of truth for every payload that crosses a process
//! boundary: event payloads on NATS and, with the API, the proto services.

/// `lzstock.v1`: the first version of LZStock's contracts.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/lzstock.v1.rs"));
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::v1::UserSignedUpRequest;

    #[test]
    fn a_generated_message_round_trips_through_the_wire_format() {
        let request = UserSignedUpRequest {
            email: "ada@example.com".into(),
            name: "Ada".into(),
        };
        let bytes = request.encode_to_vec();
        assert_eq!(
            UserSignedUpRequest::decode(bytes.as_slice()).unwrap(),
            request
        );
    }
}
