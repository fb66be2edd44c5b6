//! Leader election and the fencing token against a real etcd started by the tests: one holder
//! at a time, takeover after resignation or expiry, and no promotion by a holder whose lease
//! lapsed.

mod support;

use standby::lease::{Election, LeaseError, Standing};
use std::time::Duration;
use support::etcd::etcd;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn candidate(url: &str, name: &str) -> Election {
    Election::connect(&[url.to_string()], "dev", name, Duration::from_secs(2))
        .await
        .unwrap()
}

#[test]
fn one_monitor_holds_the_lease_and_another_takes_over_when_it_resigns() {
    let dir = tempfile::tempdir().unwrap();
    let e = etcd(dir.path());
    rt().block_on(async {
        let (a, b) = (candidate(&e.url, "a").await, candidate(&e.url, "b").await);
        let Standing::Leader { token, fresh: true } = a.campaign().await.unwrap() else {
            panic!("the first candidate wins")
        };
        assert!(token > 0);
        assert_eq!(
            b.campaign().await.unwrap(),
            Standing::Follower { holder: "a".into() }
        );
        // Kept alive well past its 2 s TTL.
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(
            a.campaign().await.unwrap(),
            Standing::Leader {
                token,
                fresh: false
            }
        );
        assert_eq!(a.verify().await.unwrap(), token);
        assert!(matches!(b.verify().await, Err(LeaseError::NotHolder(_))));
        a.resign().await;
        let Standing::Leader { token: t2, .. } = b.campaign().await.unwrap() else {
            panic!("b takes the resigned lease at once")
        };
        assert!(t2 > token, "each holder gets a newer token");
    });
}

#[test]
fn a_holder_whose_lease_expired_cannot_claim_an_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let e = etcd(dir.path());
    rt().block_on(async {
        let (a, b) = (candidate(&e.url, "a").await, candidate(&e.url, "b").await);
        assert!(matches!(
            a.campaign().await.unwrap(),
            Standing::Leader { .. }
        ));
        let first = a.claim("orders", 1, "west").await.unwrap();
        assert_eq!(first.previous, None);
        // a freezes: no keep-alives, but it still believes it holds its token.
        a.stall();
        let mut took = None;
        for _ in 0..60 {
            if let Standing::Leader { token, .. } = b.campaign().await.unwrap() {
                took = Some(token);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let b_token = took.expect("b takes the lease once a's expires");
        assert!(b_token > first.token);
        // The compare-and-swap in etcd refuses a's stale token.
        let err = a.claim("orders", 2, "east").await.unwrap_err();
        assert!(
            matches!(&err, LeaseError::NotHolder(m) if m.contains("b holds the lease")),
            "{err}"
        );
        assert!(a.verify().await.is_err());
        let second = b.claim("orders", 2, "east").await.unwrap();
        assert_eq!((second.token, second.previous), (b_token, Some(1)));
        // An epoch is claimed once: a plan made before the claim is stale.
        let again = b.claim("orders", 2, "west").await.unwrap_err();
        assert!(
            matches!(
                again,
                LeaseError::StaleEpoch {
                    held: 2,
                    wanted: 2,
                    ..
                }
            ),
            "{again}"
        );
        assert!(matches!(a.campaign().await.unwrap(), Standing::Lost { .. }));
        assert_eq!(
            a.campaign().await.unwrap(),
            Standing::Follower { holder: "b".into() }
        );
    });
}

#[test]
fn a_wrong_etcd_address_is_a_clear_error() {
    let err = rt()
        .block_on(Election::connect(
            &["http://127.0.0.1:9".to_string()],
            "dev",
            "a",
            Duration::from_secs(2),
        ))
        .err()
        .expect("nothing listens on port 9");
    assert!(
        err.to_string()
            .starts_with("cannot reach etcd at http://127.0.0.1:9"),
        "{err}"
    );
}
