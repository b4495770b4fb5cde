//! Malformed and oversized requests (issue 20, item 4): bytes that do not decode as the
//! method's request, and a message over the node's size limit, sent to every method of every
//! service as any gRPC client could send them, are the caller's fault: INVALID_ARGUMENT with
//! `ErrorInfo` reason `MALFORMED_MESSAGE`, and RESOURCE_EXHAUSTED with `MESSAGE_TOO_LARGE`,
//! never INTERNAL or OUT_OF_RANGE; nothing is stored, and the node serves on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::on_every_backend;
use std::time::Duration;

use crate::support::server::MAX_MESSAGE_BYTES;
use tiepdan_tests::Backend;
use tokio::time::timeout;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::support::{Api, assert_refused_with, ok, pb};

/// Sends each message's bytes as they are; reads answers as nothing.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

#[derive(Debug)]
struct RawEncoder;

#[derive(Debug)]
struct IgnoringDecoder;

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        use prost::bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for IgnoringDecoder {
    type Item = ();
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<()>, Status> {
        use prost::bytes::Buf;
        let n = src.remaining();
        src.advance(n);
        Ok(Some(()))
    }
}

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = ();
    type Encoder = RawEncoder;
    type Decoder = IgnoringDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> IgnoringDecoder {
        IgnoringDecoder
    }
}

/// Calls `path` with one message of `bytes`; answers the status the call ends with, or
/// `Ok` when it answered a message or stayed open.
async fn send_raw(channel: &Channel, path: &str, bytes: Vec<u8>) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.unwrap();
    let request = tonic::Request::new(tokio_stream::iter([bytes]));
    let path = PathAndQuery::try_from(path).unwrap();
    let mut answers = match grpc.streaming(request, path, RawCodec).await {
        Ok(response) => response.into_inner(),
        Err(status) => return Err(status),
    };
    match timeout(Duration::from_secs(10), answers.message()).await {
        Ok(Err(status)) => Err(status),
        Ok(Ok(_)) | Err(_) => Ok(()),
    }
}

/// Bytes no request message decodes from: a field of wire type 7 (none such exists), a
/// length running past the end, a varint that never ends.
fn undecodable() -> Vec<Vec<u8>> {
    vec![
        vec![0x0f, 0x01],
        vec![0x0a, 0x05, b'a'],
        vec![
            0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ],
    ]
}

async fn malformed_and_oversized_requests_are_the_callers_fault(backend: Backend) {
    let mut api = Api::start(backend).await;
    let channel = api.node.channel().await;
    let seq = api.last_seq().await;
    let methods = crate::support::described_methods();
    let services: std::collections::BTreeSet<_> =
        methods.iter().filter_map(|m| m.split('/').nth(1)).collect();
    assert_eq!(services.len(), 7, "{services:?}");
    for method in &methods {
        for (i, bytes) in undecodable().into_iter().enumerate() {
            assert_refused_with(
                send_raw(&channel, method, bytes).await,
                Code::InvalidArgument,
                "MALFORMED_MESSAGE",
                &format!("{method} undecodable #{i}"),
            );
        }
        assert_refused_with(
            send_raw(&channel, method, vec![0x0a; MAX_MESSAGE_BYTES + 1]).await,
            Code::ResourceExhausted,
            "MESSAGE_TOO_LARGE",
            &format!("{method} over the limit"),
        );
    }
    // Nothing was stored, and the node goes on serving on the same channel.
    assert_eq!(api.last_seq().await, seq);
    let units = ok(api.units.list_units(pb::ListUnitsRequest::default()).await).units;
    assert_eq!(units.len(), 1, "{units:?}");
    let petitions = ok(api
        .petitions
        .list_petitions(pb::ListPetitionsRequest::default())
        .await)
    .petitions;
    assert!(petitions.is_empty());
    api.receive(crate::support::ago(1), None).await;
    assert_eq!(api.last_seq().await, seq + 1);
    api.stop().await;
}

on_every_backend!(malformed_and_oversized_requests_are_the_callers_fault);
