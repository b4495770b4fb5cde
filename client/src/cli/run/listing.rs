//! The API's listings, page by page: a listing command gives its filters once, and every
//! page asks for the same filters with the next page's token.

use std::future::Future;

use tiepdan_client::{Error, collect_pages};
use tiepdan_proto::v1 as pb;

use crate::cli::args::Limit;

/// A listing request of the API, and the answer it pages through.
pub trait Listing: Clone {
    type Response;
    type Item;
    /// The same request for one page.
    fn page(self, page_size: i32, page_token: String) -> Self;
    /// A page's items and the next page's token (empty after the last).
    fn items(response: Self::Response) -> (Vec<Self::Item>, String);
}

/// Makes `$request` a [`Listing`] answered by `$response`, whose `$items` are the page.
macro_rules! listing {
    ($($request:ty => $response:ty, $items:ident: $item:ty;)*) => {$(
        impl Listing for $request {
            type Response = $response;
            type Item = $item;
            fn page(self, page_size: i32, page_token: String) -> Self {
                Self { page_size, page_token, ..self }
            }
            fn items(response: $response) -> (Vec<$item>, String) {
                (response.$items, response.next_page_token)
            }
        }
    )*};
}

listing! {
    pb::ListUnitsRequest => pb::ListUnitsResponse, units: pb::Unit;
    pb::ListVisitsRequest => pb::ListVisitsResponse, visits: pb::Visit;
    pb::ListScheduleEntriesRequest => pb::ListScheduleEntriesResponse, entries: pb::ScheduleEntry;
    pb::ListConclusionsRequest => pb::ListConclusionsResponse, conclusions: pb::Conclusion;
    pb::ListPetitionsRequest => pb::ListPetitionsResponse, petitions: pb::Petition;
    pb::ListOverdueItemsRequest => pb::ListOverdueItemsResponse, items: pb::OverdueItem;
    pb::ListCasesRequest => pb::ListCasesResponse, cases: pb::Case;
}

/// Up to `limit` items of the listing `request`, each page asked for by `call`.
pub async fn collect<R, F, Fut>(limit: Limit, request: R, call: F) -> Result<Vec<R::Item>, Error>
where
    R: Listing,
    F: Fn(R) -> Fut,
    Fut: Future<Output = Result<R::Response, Error>>,
{
    collect_pages(limit.get(), |page_size, page_token| {
        let answer = call(request.clone().page(page_size, page_token));
        async move { answer.await.map(R::items) }
    })
    .await
}
