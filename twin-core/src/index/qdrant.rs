//! The Qdrant backend: one collection per install on a Qdrant server (gRPC, port
//! 6334), through the `qdrant-client` crate.
//!
//! A point's payload is `patient`, `index_time` (RFC 3339), `index_time_us`, `kind`,
//! `follow_up_days` and `twin_version`; the collection's metadata records the twin
//! version and Qdrant's vector config the width, so a reopened collection refuses
//! other vectors as the in-process index does. Filters on patient, kind and
//! follow-up run on the server (payload filter, indexed fields); one per patient is
//! applied here over an over-fetched, re-ranked candidate list. Distances are
//! recomputed here from the returned (unit) vectors with the same function as the
//! in-process index, so ties break identically.

use std::collections::HashMap;

use audit_log::Digest;
use chrono::{DateTime, Utc};
use qdrant_client::qdrant::point_id::PointIdOptions;
use qdrant_client::qdrant::value::Kind;
use qdrant_client::qdrant::vector_output::Vector;
use qdrant_client::qdrant::vectors_config::Config as VectorsConfigKind;
use qdrant_client::qdrant::{
    Condition, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder, DeletePointsBuilder,
    Distance, FieldType, Filter, PointStruct, Range, SearchParamsBuilder, SearchPointsBuilder, UpsertPointsBuilder,
    Value, VectorParamsBuilder,
};
use qdrant_client::Qdrant;

use super::config::QdrantConfig;
use super::error::IndexError;
use super::local::{check_points, check_query};
use super::point::{dot, result_order, take_neighbours, IndexPoint, Neighbour, NeighbourQuery, PointId, SnapshotKind};
use journey::event::PatientId;

/// Points per upsert request (a request stays well under gRPC's 4 MB default).
const UPSERT_CHUNK: usize = 1024;

pub struct QdrantIndex {
    config: QdrantConfig,
    client: Qdrant,
    /// Width and twin version, once the collection exists.
    dim: Option<usize>,
    twin_version: Option<Digest>,
}

impl QdrantIndex {
    pub async fn open(config: &QdrantConfig) -> Result<Self, IndexError> {
        let client =
            Qdrant::from_url(&config.url).skip_compatibility_check().build().map_err(|e| qdrant_error(config, e))?;
        client.health_check().await.map_err(|e| qdrant_error(config, e))?;
        let mut index = QdrantIndex { config: config.clone(), client, dim: None, twin_version: None };
        index.read_collection().await?;
        Ok(index)
    }

    fn err(&self, e: impl std::fmt::Display) -> IndexError {
        qdrant_error(&self.config, e)
    }

    fn place(&self) -> String {
        format!("Qdrant {} collection `{}`", self.config.url, self.config.collection)
    }

    pub fn describe(&self) -> String {
        self.place()
    }

    pub fn twin_version(&self) -> Option<Digest> {
        self.twin_version
    }

    pub fn dim(&self) -> Option<usize> {
        self.dim
    }

    /// Reads width and twin version of an existing collection.
    async fn read_collection(&mut self) -> Result<(), IndexError> {
        let name = &self.config.collection;
        if !self.client.collection_exists(name).await.map_err(|e| self.err(e))? {
            self.dim = None;
            self.twin_version = None;
            return Ok(());
        }
        let info = self.client.collection_info(name).await.map_err(|e| self.err(e))?;
        let config = info.result.and_then(|r| r.config).ok_or_else(|| self.err("collection has no config"))?;
        let dim = config
            .params
            .and_then(|p| p.vectors_config)
            .and_then(|v| v.config)
            .and_then(|c| match c {
                VectorsConfigKind::Params(p) => Some(p.size as usize),
                VectorsConfigKind::ParamsMap(_) => None,
            })
            .ok_or_else(|| self.err("collection is not an RDT collection (no single unnamed vector)"))?;
        let version = config
            .metadata
            .get("twin_version")
            .and_then(value_str)
            .and_then(|s| s.parse::<Digest>().ok())
            .ok_or_else(|| self.err("collection is not an RDT collection (no twin_version in its metadata)"))?;
        self.dim = Some(dim);
        self.twin_version = Some(version);
        Ok(())
    }

    async fn create_collection(&mut self, dim: usize, version: Digest) -> Result<(), IndexError> {
        let name = self.config.collection.clone();
        let metadata: HashMap<String, serde_json::Value> =
            HashMap::from([("twin_version".to_owned(), serde_json::Value::String(version.to_hex()))]);
        self.client
            .create_collection(
                CreateCollectionBuilder::new(&name)
                    .vectors_config(VectorParamsBuilder::new(dim as u64, Distance::Cosine))
                    .metadata(metadata),
            )
            .await
            .map_err(|e| self.err(e))?;
        for (field, kind) in
            [("patient", FieldType::Keyword), ("kind", FieldType::Keyword), ("follow_up_days", FieldType::Integer)]
        {
            self.client
                .create_field_index(CreateFieldIndexCollectionBuilder::new(&name, field, kind).wait(true))
                .await
                .map_err(|e| self.err(e))?;
        }
        self.dim = Some(dim);
        self.twin_version = Some(version);
        Ok(())
    }

    pub async fn upsert(&mut self, points: &[IndexPoint]) -> Result<(), IndexError> {
        let checked = check_points(&self.place(), self.dim, self.twin_version, points)?;
        let Some(first) = points.first() else {
            return Ok(());
        };
        if self.dim.is_none() {
            self.create_collection(first.vector.len(), first.twin_version).await?;
        }
        // A patient has one live point: drop older live points of the patients whose
        // new live point this batch brings.
        let live: Vec<(String, PointId)> = checked
            .iter()
            .filter(|(p, _)| p.kind == SnapshotKind::Live)
            .map(|(p, _)| (p.patient.as_str().to_owned(), p.id))
            .collect();
        if !live.is_empty() {
            let patients: Vec<String> = live.iter().map(|(p, _)| p.clone()).collect();
            let ids: Vec<qdrant_client::qdrant::PointId> = live.iter().map(|(_, id)| id.0.into()).collect();
            let stale = Filter {
                must: vec![
                    Condition::matches("kind", SnapshotKind::Live.as_str().to_owned()),
                    Condition::matches("patient", patients),
                ],
                must_not: vec![Condition::has_id(ids)],
                ..Default::default()
            };
            self.delete(stale).await?;
        }
        let version = first.twin_version.to_hex();
        let structs: Vec<PointStruct> = checked
            .into_iter()
            .map(|(p, vector)| {
                let payload: HashMap<String, Value> = HashMap::from([
                    ("patient".to_owned(), Value::from(p.patient.as_str())),
                    ("index_time".to_owned(), Value::from(p.index_time.to_rfc3339())),
                    ("index_time_us".to_owned(), Value::from(p.index_time.timestamp_micros())),
                    ("kind".to_owned(), Value::from(p.kind.as_str())),
                    ("follow_up_days".to_owned(), Value::from(p.follow_up_days as i64)),
                    ("twin_version".to_owned(), Value::from(version.as_str())),
                ]);
                PointStruct::new(p.id.0, vector, payload)
            })
            .collect();
        for chunk in structs.chunks(UPSERT_CHUNK) {
            self.client
                .upsert_points(UpsertPointsBuilder::new(&self.config.collection, chunk.to_vec()).wait(true))
                .await
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    async fn delete(&self, filter: Filter) -> Result<(), IndexError> {
        self.client
            .delete_points(DeletePointsBuilder::new(&self.config.collection).points(filter).wait(true))
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn count(&self, filter: Option<Filter>) -> Result<usize, IndexError> {
        if self.dim.is_none() {
            return Ok(0);
        }
        let mut request = CountPointsBuilder::new(&self.config.collection).exact(true);
        if let Some(f) = filter {
            request = request.filter(f);
        }
        let response = self.client.count(request).await.map_err(|e| self.err(e))?;
        Ok(response.result.map_or(0, |r| r.count as usize))
    }

    pub async fn remove_patient(&mut self, patient: &PatientId) -> Result<usize, IndexError> {
        if self.dim.is_none() {
            return Ok(0);
        }
        let filter = Filter::must([Condition::matches("patient", patient.as_str().to_owned())]);
        let n = self.count(Some(filter.clone())).await?;
        if n > 0 {
            self.delete(filter).await?;
        }
        Ok(n)
    }

    pub async fn len(&self) -> Result<usize, IndexError> {
        self.count(None).await
    }

    pub async fn is_empty(&self) -> Result<bool, IndexError> {
        Ok(self.len().await? == 0)
    }

    /// Waits until the server has finished optimising the collection (status green)
    /// and its HNSW graph covers every point, polling every half second up to
    /// `timeout`. Returns whether it got there: before that, part of a search is a
    /// scan. (Qdrant leaves segments below its indexing threshold unindexed; those
    /// count as done once the status is green and stays so.)
    pub async fn wait_indexed(&self, timeout: std::time::Duration) -> Result<bool, IndexError> {
        if self.dim.is_none() {
            return Ok(true);
        }
        let start = std::time::Instant::now();
        let mut green_polls = 0;
        loop {
            let info = self.client.collection_info(&self.config.collection).await.map_err(|e| self.err(e))?;
            let info = info.result.ok_or_else(|| self.err("no collection info"))?;
            let green = info.status == qdrant_client::qdrant::CollectionStatus::Green as i32;
            let indexed = info.indexed_vectors_count.unwrap_or(0) >= info.points_count.unwrap_or(0);
            green_polls = if green { green_polls + 1 } else { 0 };
            // Unindexed but green for 5 s: small segments the optimiser leaves as they are.
            if green && (indexed || green_polls >= 10) {
                return Ok(indexed);
            }
            if start.elapsed() >= timeout {
                return Ok(false);
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }

    pub async fn clear(&mut self) -> Result<(), IndexError> {
        if self.dim.is_some() {
            self.client.delete_collection(&self.config.collection).await.map_err(|e| self.err(e))?;
        }
        self.dim = None;
        self.twin_version = None;
        Ok(())
    }

    pub async fn search(&self, query: &NeighbourQuery) -> Result<Vec<Neighbour>, IndexError> {
        let Some(dim) = self.dim else {
            return Ok(vec![]);
        };
        if query.k == 0 {
            return Ok(vec![]);
        }
        let unit = check_query(&self.place(), dim, query)?;
        let mut filter = Filter::default();
        if let Some(p) = &query.exclude_patient {
            filter.must_not.push(Condition::matches("patient", p.as_str().to_owned()));
        }
        if query.min_follow_up_days > 0 {
            let range = Range { gte: Some(query.min_follow_up_days as f64), ..Default::default() };
            filter.must.push(Condition::range("follow_up_days", range));
        }
        if let Some(kind) = query.kind {
            filter.must.push(Condition::matches("kind", kind.as_str().to_owned()));
        }
        let params = if self.config.exact {
            SearchParamsBuilder::default().exact(true)
        } else {
            SearchParamsBuilder::default().hnsw_ef(256)
        };
        let mut limit = (query.k * 4).max(32);
        loop {
            let response = self
                .client
                .search_points(
                    SearchPointsBuilder::new(&self.config.collection, unit.clone(), limit as u64)
                        .filter(filter.clone())
                        .params(params.clone())
                        .with_payload(true)
                        .with_vectors(true),
                )
                .await
                .map_err(|e| self.err(e))?;
            let returned = response.result.len();
            let mut ranked = Vec::with_capacity(returned);
            for point in response.result {
                ranked.push(self.neighbour(point, &unit)?);
            }
            ranked.sort_unstable_by(|a, b| result_order((a.distance, a.id), (b.distance, b.id)));
            let found = take_neighbours(query, ranked);
            if found.len() == query.k || returned < limit {
                return Ok(found);
            }
            limit *= 4;
        }
    }

    fn neighbour(&self, point: qdrant_client::qdrant::ScoredPoint, unit: &[f32]) -> Result<Neighbour, IndexError> {
        let bad = |what: &str| self.err(format!("a point without a valid {what}"));
        let id = match point.id.and_then(|i| i.point_id_options) {
            Some(PointIdOptions::Num(n)) => PointId(n),
            _ => return Err(bad("numeric id")),
        };
        let text = |key: &str| point.payload.get(key).and_then(value_str);
        let patient = text("patient").and_then(PatientId::new).ok_or_else(|| bad("patient"))?;
        let kind = text("kind").and_then(SnapshotKind::parse).ok_or_else(|| bad("kind"))?;
        let index_time = text("index_time")
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| bad("index_time"))?;
        let follow_up_days = match point.payload.get("follow_up_days").and_then(|v| v.kind.as_ref()) {
            Some(Kind::IntegerValue(n)) => u32::try_from(*n).map_err(|_| bad("follow_up_days"))?,
            _ => return Err(bad("follow_up_days")),
        };
        let vector = match point.vectors.and_then(|v| v.get_vector()) {
            Some(Vector::Dense(d)) => d.data,
            _ => return Err(bad("vector")),
        };
        Ok(Neighbour { id, patient, index_time, kind, distance: 1.0 - dot(unit, &vector), follow_up_days })
    }
}

fn value_str(v: &Value) -> Option<&str> {
    match v.kind.as_ref() {
        Some(Kind::StringValue(s)) => Some(s.as_str()),
        _ => None,
    }
}

fn qdrant_error(config: &QdrantConfig, e: impl std::fmt::Display) -> IndexError {
    IndexError::Qdrant { url: config.url.clone(), collection: config.collection.clone(), message: e.to_string() }
}
