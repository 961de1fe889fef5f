//! One durable write (`LocalEngine::open`: committed to SQLite, synced to disk, before it
//! returns) against states of 1,000 and 100,000 resources: the cost of a write must not grow
//! with the state, since a write commits only the rows it changed. The same write on an
//! in-memory engine is measured beside it, for what the database adds.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use workos_authz::check::ResourceRef;
use workos_authz::local::{
    Changes, LocalEngine, NewResource, Policy, PolicyOrganization, PolicyResource,
};

/// A policy of one organization with `count` resources, a quarter of them under the first.
fn policy(count: usize) -> Policy {
    let mut policy = Policy {
        organizations: vec![PolicyOrganization {
            id: Some("org_bench".into()),
            name: "Bench".into(),
            ..PolicyOrganization::default()
        }],
        ..Policy::default()
    };
    for index in 0..count {
        let parent = (index > 0 && index % 4 == 0).then(|| "doc_0".to_owned());
        policy.resources.push(PolicyResource {
            organization_id: "org_bench".into(),
            resource_type_slug: "doc".into(),
            external_id: format!("doc_{index}"),
            name: "Doc".into(),
            parent_resource_type_slug: parent.as_ref().map(|_| "doc".to_owned()),
            parent_resource_external_id: parent,
            ..PolicyResource::default()
        });
    }
    policy
}

fn bench_writes(c: &mut Criterion) {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let mut group = c.benchmark_group("one write");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(2));
    for count in [1_000usize, 100_000] {
        let path = directory.path().join(format!("state-{count}.db"));
        let seeding = Instant::now();
        let durable = LocalEngine::open_with_seed(&path, &policy(count)).expect("seeded");
        let on_disk: u64 = ["", "-wal"]
            .iter()
            .map(|suffix| {
                let mut file = path.as_os_str().to_owned();
                file.push(suffix);
                std::fs::metadata(file).map_or(0, |m| m.len())
            })
            .sum();
        println!(
            "state of {count} resources: seeded in {:.2?}, {:.1} MiB on disk (database and log)",
            seeding.elapsed(),
            on_disk as f64 / (1024.0 * 1024.0)
        );
        let memory = LocalEngine::from_policy(&policy(count)).expect("built");
        for (store, engine) in [("sqlite", &durable), ("memory", &memory)] {
            let target = engine
                .get_resource_by_external_id("org_bench", "doc", "doc_1")
                .expect("doc_1")
                .id;
            let mut flip = false;
            group.bench_function(
                format!("update a resource, {count} resources, {store}"),
                |b| {
                    b.iter(|| {
                        flip = !flip;
                        let name = if flip { "Renamed" } else { "Doc" };
                        let changes = Changes {
                            name: Some(name.to_owned()),
                            description: None,
                        };
                        engine
                            .update_resource(black_box(&target), changes)
                            .expect("updated")
                    })
                },
            );
            group.bench_function(
                format!("create and delete a resource, {count} resources, {store}"),
                |b| {
                    b.iter(|| {
                        let created = engine
                            .create_resource(
                                NewResource::new("org_bench", "doc", "bench_tmp", "Tmp")
                                    .parent(ResourceRef::external("doc", "doc_0")),
                            )
                            .expect("created");
                        engine.delete_resource(&created.id, false).expect("deleted")
                    })
                },
            );
        }
    }
    group.finish();
}

// `criterion_group!` and `criterion_main!` written out: the macros define undocumented `pub fn`s.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench_writes(&mut criterion);
    criterion.final_summary();
}
