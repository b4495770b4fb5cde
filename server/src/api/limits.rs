//! Requests the node cannot read. tonic decodes a request inside the generated service and
//! answers bytes that do not decode with INTERNAL (what a panic also becomes) and a message
//! over the size limit with OUT_OF_RANGE, as if the node had failed. This layer, around every
//! route, rewrites those answers — in the headers of an answer that is only a status, or in
//! the trailers of a stream — to what they are, the caller's fault: INVALID_ARGUMENT with
//! `ErrorInfo` reason `MALFORMED_MESSAGE`, and RESOURCE_EXHAUSTED with `MESSAGE_TOO_LARGE`.
//! It knows them by the exact messages tonic and tonic-prost write on a status without
//! details (tonic's `codec/decode.rs`, tonic-prost's `from_decode_error`); a handler's own
//! error (a storage failure) carries details or other words, and passes unchanged.

use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::TryFutureExt;
use futures::future::MapOk;
use http_body::Frame;
use tonic::body::Body;
use tonic::codegen::http::{HeaderMap, Request, Response};
use tonic::codegen::{Bytes, Service};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::error::ERROR_DOMAIN;
use crate::wire::MAX_MESSAGE_BYTES;

/// `ErrorInfo.reason` of a request that does not decode.
pub const MALFORMED_MESSAGE: &str = "MALFORMED_MESSAGE";
/// `ErrorInfo.reason` of a request over [`MAX_MESSAGE_BYTES`].
pub const MESSAGE_TOO_LARGE: &str = "MESSAGE_TOO_LARGE";

/// How prost's `DecodeError` starts, as tonic-prost turns it into a status.
const PROST_DECODE: &str = "failed to decode Protobuf message: ";
/// tonic's words for a frame cut short, and for a unary call without a message.
const TRUNCATED: &str = "Unexpected EOF decoding stream.";
const MISSING: &str = "Missing request message.";
/// How tonic starts its over-size refusals: of the frame, and of a decompressed message.
const FRAME_TOO_LARGE: &str = "Error, decoded message length too large";
const DECOMPRESSED_TOO_LARGE: &str = "Error decompressing: size limit";

/// The caller's fault hidden in a status tonic wrote, as it should be told; `None` for any
/// other status.
pub fn callers_fault(status: &Status) -> Option<Status> {
    if !status.details().is_empty() {
        return None;
    }
    let message = status.message();
    let malformed = match status.code() {
        Code::Internal => {
            message.starts_with(PROST_DECODE) || message == TRUNCATED || message == MISSING
        }
        // The tier link already answers a message that does not decode so, in its own words.
        Code::InvalidArgument => message.contains(PROST_DECODE) || message.ends_with(TRUNCATED),
        _ => false,
    };
    if malformed {
        return Some(Status::with_error_details(
            Code::InvalidArgument,
            message,
            ErrorDetails::with_error_info(MALFORMED_MESSAGE, ERROR_DOMAIN, HashMap::new()),
        ));
    }
    let too_large = match status.code() {
        Code::OutOfRange => message.starts_with(FRAME_TOO_LARGE),
        Code::ResourceExhausted => message.starts_with(DECOMPRESSED_TOO_LARGE),
        _ => false,
    };
    too_large.then(|| {
        Status::with_error_details(
            Code::ResourceExhausted,
            message,
            ErrorDetails::with_error_info(
                MESSAGE_TOO_LARGE,
                ERROR_DOMAIN,
                HashMap::from([("limit_bytes".to_string(), MAX_MESSAGE_BYTES.to_string())]),
            ),
        )
    })
}

/// Rewrites the status in `headers`, when it is one of tonic's for a request it could not read.
fn rewrite(headers: &mut HeaderMap) -> Option<Status> {
    // A status with details is never tonic's own (and is not parsed, so never mis-parsed).
    if headers.contains_key(Status::GRPC_STATUS_DETAILS)
        || !headers.contains_key(Status::GRPC_STATUS)
    {
        return None;
    }
    let status = callers_fault(&Status::from_header_map(headers)?)?;
    headers.remove(Status::GRPC_STATUS);
    headers.remove(Status::GRPC_MESSAGE);
    // Both header values come from a status tonic itself could write.
    status.add_header(headers).ok()?;
    Some(status)
}

/// Installs the rewrite in front of every route.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnreadableLayer;

impl<S> tower_layer::Layer<S> for UnreadableLayer {
    type Service = UnreadableService<S>;

    fn layer(&self, inner: S) -> UnreadableService<S> {
        UnreadableService { inner }
    }
}

/// The routes behind the rewrite.
#[derive(Debug, Clone)]
pub struct UnreadableService<S> {
    inner: S,
}

type Rewrite = fn(Response<Body>) -> Response<Body>;

impl<S, B> Service<Request<B>> for UnreadableService<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = MapOk<S::Future, Rewrite>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.inner.call(request).map_ok(answer as Rewrite)
    }
}

/// An answer with its status rewritten, now in its headers or later in its trailers.
fn answer(response: Response<Body>) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    if let Some(status) = rewrite(&mut parts.headers) {
        parts.extensions.insert(status);
        return Response::from_parts(parts, body);
    }
    Response::from_parts(parts, Body::new(RewrittenTrailers { inner: body }))
}

/// A streamed answer whose trailers are rewritten.
struct RewrittenTrailers {
    inner: Body,
}

impl http_body::Body for RewrittenTrailers {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let frame = std::task::ready!(Pin::new(&mut self.inner).poll_frame(cx));
        Poll::Ready(frame.map(|frame| {
            frame.map(|frame| match frame.into_trailers() {
                Ok(mut trailers) => {
                    rewrite(&mut trailers);
                    Frame::trailers(trailers)
                }
                Err(data) => data,
            })
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn reason(status: &Status) -> Option<String> {
        status
            .get_error_details()
            .error_info()
            .map(|i| i.reason.clone())
    }

    #[test]
    fn what_prost_and_tonic_write_is_recognised() {
        // What tonic-prost makes of a field of wire type 7, which does not exist.
        let decode_error = match prost_types::Timestamp::decode([0x0f_u8].as_slice()) {
            Err(e) => Status::internal(e.to_string()),
            Ok(t) => panic!("0x0f decodes as {t:?}"),
        };
        let cases = [
            (decode_error, Code::InvalidArgument, MALFORMED_MESSAGE),
            (
                Status::internal(TRUNCATED),
                Code::InvalidArgument,
                MALFORMED_MESSAGE,
            ),
            (
                Status::internal(MISSING),
                Code::InvalidArgument,
                MALFORMED_MESSAGE,
            ),
            (
                Status::invalid_argument(format!(
                    "malformed link message: {PROST_DECODE}invalid varint"
                )),
                Code::InvalidArgument,
                MALFORMED_MESSAGE,
            ),
            (
                Status::out_of_range(format!(
                    "{FRAME_TOO_LARGE}: found 5000000 bytes, the limit is: 4194304 bytes"
                )),
                Code::ResourceExhausted,
                MESSAGE_TOO_LARGE,
            ),
        ];
        for (status, code, why) in cases {
            let rewritten = callers_fault(&status);
            assert_eq!(
                rewritten.as_ref().map(Status::code),
                Some(code),
                "{status:?}"
            );
            assert_eq!(rewritten.as_ref().and_then(reason).as_deref(), Some(why));
            assert_eq!(
                rewritten.as_ref().map(Status::message),
                Some(status.message())
            );
        }
    }

    #[test]
    fn a_handlers_own_errors_pass_unchanged() {
        let storage: Status = crate::domain::DomainError::Storage("disk full".into()).into();
        let with_details = Status::with_error_details(
            Code::Internal,
            format!("{PROST_DECODE}of a stored record"),
            ErrorDetails::with_error_info("STORAGE", ERROR_DOMAIN, HashMap::new()),
        );
        for status in [
            storage,
            with_details,
            Status::internal("checking a batch: connection reset"),
            Status::internal(format!("while reading: {PROST_DECODE}x")),
            Status::out_of_range("11, 12 after 9"),
            Status::invalid_argument("summary: required"),
            Status::resource_exhausted("too many links"),
        ] {
            assert!(callers_fault(&status).is_none(), "{status:?}");
        }
    }

    #[test]
    fn the_headers_of_a_status_only_answer_are_rewritten() {
        let mut response: Response<Body> =
            Status::internal(format!("{PROST_DECODE}invalid wire type value: 7")).into_http();
        let status = rewrite(response.headers_mut());
        assert_eq!(status.map(|s| s.code()), Some(Code::InvalidArgument));
        let Some(read) = Status::from_header_map(response.headers()) else {
            panic!("no status in the headers");
        };
        assert_eq!(read.code(), Code::InvalidArgument);
        assert_eq!(reason(&read).as_deref(), Some(MALFORMED_MESSAGE));
        // A status already with details is left as it is.
        let refusal = Status::from(crate::domain::DomainError::invalid("x", "y"));
        let mut response: Response<Body> = refusal.into_http();
        let before = response.headers().clone();
        assert!(rewrite(response.headers_mut()).is_none());
        assert_eq!(response.headers(), &before);
    }
}
