use super::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;

const NOW: i64 = 1_700_000_000;

fn claims(role: Role) -> Claims {
    Claims {
        subject: "Nguyễn Thị Hoa".into(),
        role,
        unit: "269".into(),
        issued_at: NOW - 60,
        expires_at: NOW + 3600,
    }
}

fn secret(byte: u8) -> Secret {
    Secret::from_bytes(&[byte; 32]).unwrap_or_else(|e| panic!("{e}"))
}

fn token(role: Role) -> String {
    issue(&secret(7), &claims(role)).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_token_round_trips() {
    for role in Role::ALL {
        let t = token(role);
        assert!(t.starts_with("tdn1."));
        assert_eq!(verify(&secret(7), &t, NOW), Ok(claims(role)));
    }
}

#[test]
fn a_tampered_token_is_invalid() {
    let t = token(Role::Reporter);
    // A token of another secret.
    assert!(matches!(
        verify(&secret(8), &t, NOW),
        Err(TokenError::Invalid(_))
    ));
    // Every single flipped byte, in any part, is refused.
    for i in 0..t.len() {
        let mut bytes = t.clone().into_bytes();
        bytes[i] ^= 0x01;
        let Ok(tampered) = String::from_utf8(bytes) else {
            continue;
        };
        assert!(
            matches!(
                verify(&secret(7), &tampered, NOW),
                Err(TokenError::Invalid(_))
            ),
            "byte {i} flipped: {tampered}"
        );
    }
    // Claims re-encoded with another role, the old MAC kept.
    let (signed, mac) = t.rsplit_once('.').unwrap_or_default();
    let forged_claims = serde_json::to_vec(&claims(Role::Head)).unwrap_or_default();
    let forged = format!("tdn1.{}.{mac}", URL_SAFE_NO_PAD.encode(forged_claims));
    assert_ne!(signed, forged.rsplit_once('.').unwrap_or_default().0);
    assert!(matches!(
        verify(&secret(7), &forged, NOW),
        Err(TokenError::Invalid(_))
    ));
}

#[test]
fn malformed_tokens_are_invalid_never_a_panic() {
    let t = token(Role::Head);
    let long = "a".repeat(MAX_TOKEN_BYTES + 1);
    let padded = format!("{t}=");
    let cases = [
        "",
        ".",
        "..",
        "...",
        "tdn1",
        "tdn1..",
        "tdn2.e30.AAAA",
        "tdn1.e30.AAAA",
        "tdn1.!!!.!!!",
        long.as_str(),
        padded.as_str(),
        "tdn1.é.é",
    ];
    for case in cases {
        assert!(
            matches!(verify(&secret(7), case, NOW), Err(TokenError::Invalid(_))),
            "{case:?}"
        );
    }
    let with_extra_part = format!("{t}.x");
    assert!(verify(&secret(7), &with_extra_part, NOW).is_err());
}

#[test]
fn claims_signed_but_unusable_are_invalid() {
    // Signed with the right secret, but not what `issue` would sign.
    let sign = |json: &str| {
        let signed = format!("tdn1.{}", URL_SAFE_NO_PAD.encode(json));
        let mut mac = secret(7).mac();
        mac.update(signed.as_bytes());
        format!(
            "{signed}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    };
    let cases = [
        r#"{"sub":"a","role":"king","unit":"269","iat":1,"exp":2000000000}"#,
        r#"{"sub":"a","role":"head","unit":"26x","iat":1,"exp":2000000000}"#,
        r#"{"sub":"","role":"head","unit":"269","iat":1,"exp":2000000000}"#,
        r#"{"sub":"a","role":"head","unit":"269","iat":1,"exp":2000000000,"admin":true}"#,
        r#"{"sub":"a","role":"head","role":"head","unit":"269","iat":1,"exp":2000000000}"#,
        r#"{"sub":"a","role":"head","unit":"269","iat":1}"#,
        r#"[]"#,
    ];
    for json in cases {
        assert!(
            matches!(
                verify(&secret(7), &sign(json), NOW),
                Err(TokenError::Invalid(_))
            ),
            "{json}"
        );
    }
    let good = r#"{"sub":"a","role":"head","unit":"269","iat":1,"exp":2000000000}"#;
    assert!(verify(&secret(7), &sign(good), NOW).is_ok());
}

#[test]
fn expiry_is_exclusive() {
    let mut c = claims(Role::Head);
    c.expires_at = NOW;
    let t = issue(&secret(7), &c).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(verify(&secret(7), &t, NOW), Err(TokenError::Expired(c)));
    assert!(verify(&secret(7), &t, NOW - 1).is_ok());
}

#[test]
fn issue_refuses_bad_claims() {
    let mut c = claims(Role::Head);
    c.subject = "x".repeat(MAX_SUBJECT_CHARS + 1);
    assert!(issue(&secret(7), &c).is_err());
    c.subject = "a\nb".into();
    assert!(issue(&secret(7), &c).is_err());
    c = claims(Role::Head);
    c.unit = "01x".into();
    assert!(issue(&secret(7), &c).is_err());
    // The longest subject still fits.
    c = claims(Role::Head);
    c.subject = "Ữ".repeat(MAX_SUBJECT_CHARS);
    assert!(issue(&secret(7), &c).is_ok());
}

#[test]
fn secrets_are_checked_and_not_printed() {
    assert!(Secret::from_bytes(&[1; 31]).is_err());
    assert!(Secret::from_bytes(&[1; 32]).is_ok());
    assert_eq!(format!("{:?}", secret(7)), "Secret(…)");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("secret");
    let written = Secret::write_new(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(Secret::write_new(&path).is_err(), "never overwritten");
    let read = Secret::read(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(written.0, read.0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .map(|m| m.permissions().mode())
            .unwrap_or_default();
        assert_eq!(mode & 0o777, 0o600);
    }
}

fn admit(auth: &Authorizer, path: &str, header: Option<String>) -> Result<Admission, Reason> {
    let presented = match &header {
        Some(h) => Presented::One(h.as_bytes()),
        None => Presented::Nothing,
    };
    auth.admit(path, presented, NOW).map_err(|r| r.reason)
}

#[test]
fn the_decision() {
    let auth = Authorizer::new(secret(7), "269");
    let bearer = |role| Some(format!("Bearer {}", token(role)));
    let visit = "/tiepdan.v1.ReceptionService/RecordVisit";
    assert_eq!(
        admit(&auth, "/grpc.health.v1.Health/Check", None),
        Ok(Admission::Open)
    );
    assert_eq!(
        admit(&auth, "/tiepdan.v1.SyncService/Link", None),
        Ok(Admission::TierLink)
    );
    assert_eq!(
        admit(
            &auth,
            "/grpc.health.v1.Health/../tiepdan.v1.UnitService/RegisterUnit",
            None
        ),
        Err(Reason::TokenMissing),
        "open means exactly /service/method"
    );
    assert_eq!(admit(&auth, visit, None), Err(Reason::TokenMissing));
    assert!(matches!(
        admit(&auth, visit, bearer(Role::Reception)),
        Ok(Admission::Token(_))
    ));
    let lowercase = Some(format!("bearer {}", token(Role::Reception)));
    assert!(admit(&auth, visit, lowercase).is_ok());
    assert_eq!(
        admit(&auth, visit, bearer(Role::Auditor)),
        Err(Reason::RoleNotAllowed)
    );
    assert_eq!(
        admit(&auth, "/tiepdan.v1.NoService/Nothing", bearer(Role::Head)),
        Err(Reason::RoleNotAllowed),
        "default deny"
    );
    assert_eq!(
        admit(&auth, "/tiepdan.v1.NoService/Nothing", None),
        Err(Reason::TokenMissing),
        "the token first"
    );
    assert_eq!(
        admit(&auth, visit, Some(token(Role::Head))),
        Err(Reason::TokenInvalid),
        "no scheme"
    );
    assert_eq!(
        admit(&auth, visit, Some(format!("Basic {}", token(Role::Head)))),
        Err(Reason::TokenInvalid)
    );
    let other = Authorizer::new(secret(7), "09574");
    assert_eq!(
        admit(&other, visit, bearer(Role::Head)),
        Err(Reason::WrongUnit)
    );
    let header = format!("Bearer {}", token(Role::Head));
    assert_eq!(
        auth.admit(visit, Presented::Several, NOW)
            .map_err(|r| r.reason),
        Err(Reason::TokenInvalid)
    );
    assert!(
        auth.admit(visit, Presented::One(header.as_bytes()), NOW)
            .is_ok()
    );
    assert_eq!(
        auth.admit(visit, Presented::One(header.as_bytes()), NOW + 3600)
            .map_err(|r| r.reason),
        Err(Reason::TokenExpired)
    );
    assert_eq!(
        auth.admit(visit, Presented::One(&[0xff, 0xfe]), NOW)
            .map_err(|r| r.reason),
        Err(Reason::TokenInvalid)
    );
}

#[test]
fn lifetimes_are_capped_and_issue_times_not_far_ahead() {
    let auth = Authorizer::new(secret(7), "269");
    let visit = "/tiepdan.v1.ReceptionService/RecordVisit";
    let day = SECONDS_PER_DAY;
    let admit_between = |auth: &Authorizer, issued_at: i64, expires_at: i64| {
        let c = Claims {
            issued_at,
            expires_at,
            ..claims(Role::Head)
        };
        let header = format!("Bearer {}", issue(&secret(7), &c).unwrap_or_default());
        auth.admit(visit, Presented::One(header.as_bytes()), NOW)
            .map(|_| ())
            .map_err(|r| (r.reason, r.message))
    };
    let refused = |result: Result<(), (Reason, String)>| result.map_err(|(reason, _)| reason);
    assert_eq!(admit_between(&auth, NOW - 60, NOW - 60 + 366 * day), Ok(()));
    let too_long = admit_between(&auth, NOW - 60, NOW - 59 + 366 * day);
    assert!(
        too_long
            .as_ref()
            .is_err_and(|(_, m)| m.contains("more than 366 days")),
        "{too_long:?}"
    );
    assert_eq!(
        refused(admit_between(&auth, NOW - 60, NOW + 400 * day)),
        Err(Reason::TokenInvalid)
    );
    assert_eq!(
        refused(admit_between(&auth, NOW + 3600, NOW + 7200)),
        Err(Reason::TokenInvalid)
    );
    assert_eq!(
        admit_between(&auth, NOW + ISSUE_SKEW_SECS, NOW + 7200),
        Ok(())
    );
    assert_eq!(
        refused(admit_between(&auth, NOW + ISSUE_SKEW_SECS + 1, NOW + 7200)),
        Err(Reason::TokenInvalid)
    );
    // The cap is the node's to set.
    let strict = Authorizer::new(secret(7), "269").with_token_max_days(30);
    assert_eq!(
        admit_between(&strict, NOW - 60, NOW - 60 + 30 * day),
        Ok(())
    );
    assert_eq!(
        refused(admit_between(&strict, NOW - 60, NOW + 31 * day)),
        Err(Reason::TokenInvalid)
    );
    let lenient = Authorizer::new(secret(7), "269").with_token_max_days(730);
    assert_eq!(admit_between(&lenient, NOW - 60, NOW + 400 * day), Ok(()));
}

#[test]
fn the_table_covers_every_method_of_the_descriptor() {
    use prost::Message;
    let set = prost_types::FileDescriptorSet::decode(tiepdan_proto::FILE_DESCRIPTOR_SET)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut described = Vec::new();
    for file in &set.file {
        for service in &file.service {
            for method in &service.method {
                described.push(format!(
                    "/{}.{}/{}",
                    file.package(),
                    service.name(),
                    method.name()
                ));
            }
        }
    }
    for path in &described {
        assert!(
            access(path).is_some(),
            "{path} is not in the permission table"
        );
    }
    // Every server stream behind a token ends with it; the tier link proves its unit
    // with a certificate, not a token.
    for file in &set.file {
        for service in &file.service {
            for method in &service.method {
                let path = format!("/{}.{}/{}", file.package(), service.name(), method.name());
                let behind_token = matches!(access(&path), Some(Access::Roles(_)));
                assert_eq!(
                    is_stream(&path),
                    behind_token && method.server_streaming(),
                    "{path}: a stream behind a token belongs in STREAMS, nothing else"
                );
            }
        }
    }
    // No method of the table that no service has.
    for (path, _) in PERMISSIONS {
        assert!(
            described.iter().any(|d| d == path),
            "{path} is in the table but no service has it"
        );
    }
    // No method is listed twice, and readers write nothing.
    for (i, (path, _)) in PERMISSIONS.iter().enumerate() {
        assert!(
            PERMISSIONS[i + 1..].iter().all(|(p, _)| p != path),
            "{path} twice"
        );
    }
    for (path, access) in PERMISSIONS {
        if let Access::Roles(roles) = access
            && (roles.contains(&Auditor) || roles.contains(&Reporter))
        {
            let method = path.rsplit('/').next().unwrap_or_default();
            assert!(
                ["Get", "List", "Watch", "Reconcile"]
                    .iter()
                    .any(|p| method.starts_with(p)),
                "{path} is open to a read-only role"
            );
        }
    }
}
