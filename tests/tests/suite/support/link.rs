//! The raw link: a parent's `SyncService/Link` opened by hand, as a child would, with typed
//! messages or with bytes no `LinkRequest` encodes to.

use super::*;

/// A town and two communes that are not linked by a tree: the raw-link suites drive the
/// town's link by hand, as `CHILD` (or as its sibling `OTHER`).
pub const TOWN: Spec = spec("269", "Thị xã Sơn Tây", UnitLevel::District, None);
pub const CHILD: Spec = spec("09574", "Phường Lê Lợi", UnitLevel::Ward, None);
pub const OTHER: Spec = spec("09577", "Phường Phú Thịnh", UnitLevel::Ward, None);

/// One end of a link opened by hand, as a child would.
pub struct RawLink {
    pub tx: mpsc::Sender<pb::LinkRequest>,
    pub inbound: Streaming<pb::LinkResponse>,
}

/// The Hello of `code`.
pub fn hello(code: &str, name: &str, level: pb::UnitLevel) -> pb::LinkRequest {
    pb::LinkRequest {
        message: Some(pb::link_request::Message::Hello(pb::Hello {
            protocol_version: 1,
            unit: Some(pb::Unit {
                code: code.to_string(),
                name: name.to_string(),
                level: level as i32,
                parent_code: String::new(),
                remote: false,
            }),
            ..Default::default()
        })),
    }
}

/// A batch of encoded events.
pub fn batch(events: &[Vec<u8>]) -> pb::LinkRequest {
    pb::LinkRequest {
        message: Some(pb::link_request::Message::Batch(pb::EventBatch {
            events: events.to_vec(),
            remaining: 0,
            units: Vec::new(),
        })),
    }
}

impl RawLink {
    /// Opens a link to `url` whose first message is `first`; the error is the call's.
    pub async fn open(url: &str, first: pb::LinkRequest) -> Result<RawLink, Status> {
        let (tx, rx) = mpsc::channel(16);
        tx.send(first).await.unwrap();
        let ch = tiepdan_tests::channel(url).await;
        let inbound = sync(&ch).link(ReceiverStream::new(rx)).await?.into_inner();
        Ok(RawLink { tx, inbound })
    }

    /// Opens a link as `code` and reads the Welcome.
    pub async fn hello(
        url: &str,
        code: &str,
        name: &str,
        level: pb::UnitLevel,
    ) -> (RawLink, pb::Welcome) {
        let mut link = RawLink::open(url, hello(code, name, level))
            .await
            .unwrap_or_else(|e| panic!("link as {code}: {e}"));
        let welcome = match link.next().await {
            Ok(Some(pb::link_response::Message::Welcome(w))) => w,
            other => panic!("expected Welcome, got {other:?}"),
        };
        (link, welcome)
    }

    /// The next message from the parent (skipping mail), bounded by `WAIT`.
    pub async fn next(&mut self) -> Result<Option<pb::link_response::Message>, Status> {
        let m = tokio::time::timeout(WAIT, self.inbound.message())
            .await
            .expect("the parent answered nothing")?;
        Ok(m.and_then(|m| m.message))
    }

    /// Sends a batch and returns the acknowledged positions, or the status the link ended
    /// with.
    pub async fn send(&mut self, events: &[Vec<u8>]) -> Result<BTreeMap<String, u64>, Status> {
        self.tx.send(batch(events)).await.unwrap();
        loop {
            match self.next().await? {
                Some(pb::link_response::Message::BatchAck(ack)) => {
                    return Ok(ack
                        .positions
                        .into_iter()
                        .map(|p| (p.origin_unit, p.sequence))
                        .collect());
                }
                Some(pb::link_response::Message::Mail(_)) => {}
                other => panic!("expected BatchAck, got {other:?}"),
            }
        }
    }
}

/// A link whose messages go as the bytes given, so a test can send what no `LinkRequest`
/// encodes to (garbage, truncated or extended encodings); the parent's answers decode as usual.
pub struct ByteLink {
    pub tx: mpsc::Sender<Vec<u8>>,
    pub inbound: Streaming<pb::LinkResponse>,
}

/// The codec of a [`ByteLink`].
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesCodec;

/// Writes each message's bytes as they are.
#[derive(Debug)]
pub struct BytesEncoder;

/// Decodes the parent's `LinkResponse`s.
#[derive(Debug)]
pub struct LinkResponseDecoder;

impl tonic::codec::Encoder for BytesEncoder {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), Status> {
        use prost::bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for LinkResponseDecoder {
    type Item = pb::LinkResponse;
    type Error = Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<pb::LinkResponse>, Status> {
        pb::LinkResponse::decode(src)
            .map(Some)
            .map_err(|e| Status::internal(format!("the parent's answer does not decode: {e}")))
    }
}

impl tonic::codec::Codec for BytesCodec {
    type Encode = Vec<u8>;
    type Decode = pb::LinkResponse;
    type Encoder = BytesEncoder;
    type Decoder = LinkResponseDecoder;

    fn encoder(&mut self) -> BytesEncoder {
        BytesEncoder
    }

    fn decoder(&mut self) -> LinkResponseDecoder {
        LinkResponseDecoder
    }
}

impl ByteLink {
    /// Opens a link over `ch` whose first message is `first`; the error is the call's.
    pub async fn open(ch: &Channel, first: Vec<u8>) -> Result<ByteLink, Status> {
        let (tx, rx) = mpsc::channel(16);
        tx.send(first).await.unwrap();
        let mut grpc = tonic::client::Grpc::new(ch.clone());
        grpc.ready()
            .await
            .map_err(|e| Status::unavailable(format!("channel not ready: {e}")))?;
        let path =
            tonic::codegen::http::uri::PathAndQuery::from_static("/tiepdan.v1.SyncService/Link");
        let inbound = grpc
            .streaming(
                tonic::Request::new(ReceiverStream::new(rx)),
                path,
                BytesCodec,
            )
            .await?
            .into_inner();
        Ok(ByteLink { tx, inbound })
    }
}

/// Asserts that `result` is a refusal with `code`.
pub fn assert_refused<T: std::fmt::Debug>(result: Result<T, Status>, code: Code, what: &str) {
    match result {
        Err(s) => assert_eq!(
            s.code(),
            code,
            "{what}: refused with {:?} ({}), expected {code:?}",
            s.code(),
            s.message()
        ),
        Ok(v) => panic!("{what}: accepted ({v:?}), expected {code:?}"),
    }
}
