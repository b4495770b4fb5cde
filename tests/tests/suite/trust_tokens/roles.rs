//! Every method against every role; bad tokens refused with their reason; a refused change stores nothing.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(super) async fn every_method_refuses_exactly_the_roles_the_table_does_not_list() {
    let (node, secret) = guarded().await;
    let channel = node.channel().await;
    let methods = crate::support::described_methods();
    assert!(methods.len() >= 35, "{methods:?}");
    let tokens: Vec<(Role, String)> = Role::ALL
        .into_iter()
        .map(|role| (role, bearer(&token(&secret, role))))
        .collect();
    for method in &methods {
        let access = auth::access(method)
            .unwrap_or_else(|| panic!("{method} has no entry in the permission table"));
        let roles = match access {
            Access::TierLink => {
                // The link is authenticated by the child's certificate; on a plaintext node
                // (loopback only) it is open as before: this empty Hello fails on its own.
                let answer = call(&channel, method, &[]).await;
                let code = answer.err().map(|s| s.code());
                assert_eq!(code, Some(Code::FailedPrecondition), "{method}");
                continue;
            }
            Access::Roles(roles) => roles,
        };
        assert_refused(
            call(&channel, method, &[]).await,
            Code::Unauthenticated,
            "TOKEN_MISSING",
            method,
        );
        for (role, header) in &tokens {
            let answer = call(&channel, method, std::slice::from_ref(header)).await;
            let context = format!("{method} as {role}");
            if roles.contains(role) {
                if let Err(status) = &answer {
                    assert!(
                        !matches!(
                            status.code(),
                            Code::Unauthenticated | Code::PermissionDenied
                        ),
                        "{context}: refused, though allowed: {status:?}"
                    );
                }
            } else {
                assert_refused(answer, Code::PermissionDenied, "ROLE_NOT_ALLOWED", &context);
            }
        }
    }
    // A method no service has is refused too, after the token.
    assert_refused(
        call(&channel, "/tiepdan.v1.UnitService/DeleteEverything", &[]).await,
        Code::Unauthenticated,
        "TOKEN_MISSING",
        "unknown method",
    );
    assert_refused(
        call(
            &channel,
            "/tiepdan.v1.UnitService/DeleteEverything",
            std::slice::from_ref(&tokens[1].1),
        )
        .await,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
        "unknown method as head",
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(super) async fn bad_tokens_are_refused_with_their_reason() {
    let (node, secret) = guarded().await;
    let channel = node.channel().await;
    let method = "/tiepdan.v1.ReceptionService/ListVisits";
    let good = token(&secret, Role::Reception);
    call(&channel, method, &[bearer(&good)]).await.unwrap();

    let unauthenticated = |why: &'static str| (Code::Unauthenticated, why);
    let (prefix, claims_part, mac) = {
        let mut parts = good.split('.');
        (
            parts.next().unwrap().to_string(),
            parts.next().unwrap().to_string(),
            parts.next().unwrap().to_string(),
        )
    };
    // The claims of a reporter re-signed by hand as a head's, the MAC kept.
    let promoted = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let json = String::from_utf8(b64.decode(&claims_part).unwrap()).unwrap();
        let json = json.replace("\"reception\"", "\"head\"");
        format!("{prefix}.{}.{mac}", b64.encode(json))
    };
    // One byte of the claims flipped.
    let flipped = {
        let mut bytes = claims_part.clone().into_bytes();
        bytes[5] = if bytes[5] == b'A' { b'B' } else { b'A' };
        format!("{prefix}.{}.{mac}", String::from_utf8(bytes).unwrap())
    };
    let zero_mac = format!("{prefix}.{claims_part}.{}", "A".repeat(43));
    let other_secret = token(&Secret::generate(), Role::Head);
    let expired = token_for(&secret, Role::Head, HOME, -1);
    let other_unit = token_for(&secret, Role::Head, "09574", 1);
    let cases: Vec<(&str, Vec<String>, (Code, &str))> = vec![
        ("no token", vec![], unauthenticated("TOKEN_MISSING")),
        (
            "garbage",
            vec![bearer("nonsense")],
            unauthenticated("TOKEN_INVALID"),
        ),
        (
            "no scheme",
            vec![good.clone()],
            unauthenticated("TOKEN_INVALID"),
        ),
        (
            "another scheme",
            vec![format!("Basic {good}")],
            unauthenticated("TOKEN_INVALID"),
        ),
        (
            "empty bearer",
            vec!["Bearer ".to_string()],
            unauthenticated("TOKEN_INVALID"),
        ),
        (
            "forged MAC",
            vec![bearer(&zero_mac)],
            unauthenticated("TOKEN_INVALID"),
        ),
        (
            "claims rewritten",
            vec![bearer(&promoted)],
            unauthenticated("TOKEN_INVALID"),
        ),
        (
            "claim byte flipped",
            vec![bearer(&flipped)],
            unauthenticated("TOKEN_INVALID"),
        ),
        (
            "another secret",
            vec![bearer(&other_secret)],
            unauthenticated("TOKEN_INVALID"),
        ),
        (
            "expired",
            vec![bearer(&expired)],
            unauthenticated("TOKEN_EXPIRED"),
        ),
        (
            "oversized",
            vec![bearer(&"a".repeat(8 * 1024))],
            unauthenticated("TOKEN_INVALID"),
        ),
        (
            "two tokens",
            vec![bearer(&good), bearer(&good)],
            unauthenticated("TOKEN_INVALID"),
        ),
        (
            "another unit",
            vec![bearer(&other_unit)],
            (Code::PermissionDenied, "WRONG_UNIT"),
        ),
    ];
    for (name, headers, (code, why)) in cases {
        assert_refused(call(&channel, method, &headers).await, code, why, name);
    }
    // A header far past any limit: the connection is refused as too large a header list
    // (HTTP/2 GOAWAY ENHANCE_YOUR_CALM, RESOURCE_EXHAUSTED to the caller), and the node serves
    // on.
    let huge = call(&channel, method, &[bearer(&"a".repeat(64 * 1024))]).await;
    let Err(huge) = huge else {
        panic!("a 64 KiB header was let through");
    };
    assert_eq!(huge.code(), Code::ResourceExhausted, "{huge:?}");
    assert!(
        format!("{huge:?}").contains("header_list_way_too_large"),
        "refused for another reason: {huge:?}"
    );
    let fresh = node.channel().await;
    call(&fresh, method, &[bearer(&good)]).await.unwrap();
    node.stop().await;
}

pub(super) async fn journal_head(node: &TestNode) -> u64 {
    node.running().app.journal(HOME, 0, 1).await.unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(super) async fn a_refused_change_stores_nothing() {
    let (node, secret) = guarded().await;
    let channel = node.channel().await;
    let before = journal_head(&node).await;
    let at = chrono::Utc::now() - chrono::Duration::hours(1);
    let tokens = [
        None,
        Some(token(&secret, Role::Auditor)),
        Some(token(&secret, Role::Reporter)),
        Some(token_for(&secret, Role::Reception, HOME, -1)),
        Some(token_for(&secret, Role::Head, "09574", 1)),
        Some(token(&Secret::generate(), Role::Head)),
    ];
    for t in &tokens {
        let bearer = match t {
            Some(t) => Bearer::new(t).unwrap(),
            None => Bearer::default(),
        };
        let mut reception = pb::reception_service_client::ReceptionServiceClient::with_interceptor(
            channel.clone(),
            bearer.clone(),
        );
        let status = reception
            .record_visit(visit_req(at, pb::ReceiverRole::Staff, 6))
            .await
            .unwrap_err();
        assert!(
            matches!(
                status.code(),
                Code::Unauthenticated | Code::PermissionDenied
            ),
            "{status:?}"
        );
        let mut petitions = pb::petition_service_client::PetitionServiceClient::with_interceptor(
            channel.clone(),
            bearer,
        );
        let status = petitions
            .receive_petition(crate::support::receive_req(at, None))
            .await
            .unwrap_err();
        assert!(
            matches!(
                status.code(),
                Code::Unauthenticated | Code::PermissionDenied
            ),
            "{status:?}"
        );
    }
    // The reception desk may not accept into a case either; the petition stays received.
    let desk = Bearer::new(&token(&secret, Role::Reception)).unwrap();
    let mut petitions =
        pb::petition_service_client::PetitionServiceClient::with_interceptor(channel.clone(), desk);
    assert_eq!(
        journal_head(&node).await,
        before,
        "refused calls journaled something"
    );
    let petition = petitions
        .receive_petition(crate::support::receive_req(at, None))
        .await
        .unwrap()
        .into_inner()
        .petition
        .unwrap();
    let after_receive = journal_head(&node).await;
    assert!(after_receive > before, "the desk's petition is journaled");
    let status = petitions
        .accept_petition(pb::AcceptPetitionRequest {
            request_id: crate::support::rid(),
            petition_id: petition.id.clone(),
            accept_time: ts(at),
            target: None,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(journal_head(&node).await, after_receive);
    // The visits the refused calls tried to record are not there.
    let visits = pb::reception_service_client::ReceptionServiceClient::with_interceptor(
        channel.clone(),
        Bearer::new(&token(&secret, Role::Auditor)).unwrap(),
    )
    .list_visits(pb::ListVisitsRequest::default())
    .await
    .unwrap()
    .into_inner();
    assert!(visits.visits.is_empty(), "{:?}", visits.visits);
    node.stop().await;
}
