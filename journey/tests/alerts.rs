//! Stored alerts (issue 22) on SQLite and PostgreSQL: a recomputation keeps an alert
//! still raised (its id and acknowledgement), drops an open one no longer raised,
//! keeps an acknowledged one; acknowledging is per patient and once.

mod support;

use chrono::NaiveDate;
use journey::store::NewAlert;
use journey::{JourneyStore, PatientId, PatientRecord};
use support::on_every_backend;

fn alert(kind: &str, day: u32, message: &str) -> NewAlert {
    NewAlert { kind: kind.into(), raised_on: NaiveDate::from_ymd_opt(2024, 3, day).unwrap(), message: message.into() }
}

async fn alerts_survive_recomputation(store: JourneyStore) {
    let (p, q) = (PatientId::new("p1").unwrap(), PatientId::new("p2").unwrap());
    let mut batch = store.begin().await.unwrap();
    let mut file = batch.file().await.unwrap();
    file.upsert_patients(&[PatientRecord::new(p.clone()), PatientRecord::new(q.clone())]).await.unwrap();
    file.commit().await.unwrap();
    batch.commit().await.unwrap();

    store.replace_alerts(&p, &[alert("activity_above_band", 1, "DAS28 6.1"), alert("failing_course", 2, "30%")]).await.unwrap();
    store.replace_alerts(&q, &[alert("failing_course", 5, "20%")]).await.unwrap();
    let first = store.alerts_of(&p).await.unwrap();
    assert_eq!(first.iter().map(|a| a.kind.as_str()).collect::<Vec<_>>(), ["failing_course", "activity_above_band"]);
    assert_eq!(store.open_alert_counts().await.unwrap().get(&p), Some(&2));

    // Another patient's alert id is not this patient's to acknowledge; once is enough.
    let q_alert = store.alerts_of(&q).await.unwrap()[0].id;
    assert_eq!(store.acknowledge_alert(&p, q_alert, "dr-a").await.unwrap(), None);
    let band = first.iter().find(|a| a.kind == "activity_above_band").unwrap();
    let acked = store.acknowledge_alert(&p, band.id, "dr-a").await.unwrap().unwrap();
    assert_eq!(acked.acknowledged.as_ref().map(|(by, _)| by.as_str()), Some("dr-a"));
    assert_eq!(store.acknowledge_alert(&p, band.id, "dr-b").await.unwrap(), None);

    // Recomputed: the failing course still raised (new message, same id), the band no
    // longer raised but acknowledged (kept), a new one added.
    let course = first.iter().find(|a| a.kind == "failing_course").unwrap();
    store.replace_alerts(&p, &[alert("failing_course", 2, "25%"), alert("activity_above_band", 9, "DAS28 6.5")]).await.unwrap();
    let now = store.alerts_of(&p).await.unwrap();
    assert_eq!(now.len(), 3);
    let same = now.iter().find(|a| a.id == course.id).unwrap();
    assert_eq!((same.message.as_str(), same.acknowledged.is_none()), ("25%", true));
    assert!(now.iter().any(|a| a.id == band.id && a.acknowledged.is_some()));
    // Nothing raised any more: open alerts go, the acknowledged one stays.
    store.replace_alerts(&p, &[]).await.unwrap();
    let left = store.alerts_of(&p).await.unwrap();
    assert_eq!(left.iter().map(|a| a.id).collect::<Vec<_>>(), [band.id]);
    assert_eq!(store.open_alert_counts().await.unwrap().get(&p), None);
}

#[tokio::test]
async fn alerts_survive_recomputation_on_every_backend() {
    on_every_backend(alerts_survive_recomputation).await;
}
