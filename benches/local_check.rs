//! `check` on a large model: 100,000 resources up to 10 levels deep and 10,000 memberships.
//! Prints the memory the model takes (counted by a global allocator) before measuring.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};

use criterion::Criterion;
use workos_authz::check::{CheckRequest, ResourceRef};
use workos_authz::local::{LocalEngine, NewPermission, NewResource, NewRole};

/// Counts the bytes currently allocated, to report the model's footprint.
struct CountingAllocator;

static ALLOCATED: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is added.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        ALLOCATED.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const RESOURCES: usize = 100_000;
const MEMBERSHIPS: usize = 10_000;
/// Each resource has up to this many children, so 100,000 resources make 9 levels below the
/// organization's root: 10 levels in all.
const FANOUT: usize = 4;

struct Model {
    engine: LocalEngine,
    /// A membership with `viewer` assigned on a resource one level below the root.
    reader: String,
    /// A membership with `viewer` on an unrelated leaf.
    outsider: String,
    /// A leaf nine levels below the root, under the reader's resource.
    deep_leaf: String,
    depth: usize,
}

fn build_model() -> Model {
    let engine = LocalEngine::new();
    engine
        .create_permission(NewPermission::new("docs:read", "Read"))
        .unwrap();
    engine
        .create_permission(NewPermission::new("docs:write", "Write"))
        .unwrap();
    engine
        .create_environment_role(NewRole::new("viewer", "Viewer").permissions(["docs:read"]))
        .unwrap();
    let organization = engine
        .create_organization_with_id("org_bench", "Bench")
        .unwrap();
    let mut ids = Vec::with_capacity(RESOURCES);
    let mut depths = Vec::with_capacity(RESOURCES);
    for index in 0..RESOURCES {
        let mut new = NewResource::new(&organization.id, "doc", format!("doc_{index}"), "Doc");
        let depth = if index < FANOUT {
            1
        } else {
            let parent = index / FANOUT - 1;
            new = new.parent(ResourceRef::id(&ids[parent]));
            depths[parent] + 1
        };
        ids.push(engine.create_resource(new).unwrap().id);
        depths.push(depth);
    }
    let mut memberships = Vec::with_capacity(MEMBERSHIPS);
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for index in 0..MEMBERSHIPS {
        let membership = engine
            .create_membership(&format!("user_{index}"), &organization.id, &[])
            .unwrap();
        for _ in 0..2 {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let target = &ids[(seed >> 33) as usize % RESOURCES];
            let _ = engine.assign_role(&membership.id, "viewer", &ResourceRef::id(target));
        }
        memberships.push(membership.id);
    }
    // The deepest resource, and the level-1 resource it descends from.
    let deep_index = (0..RESOURCES).max_by_key(|&i| depths[i]).unwrap();
    let mut top = deep_index;
    while top >= FANOUT {
        top = top / FANOUT - 1;
    }
    let reader = engine
        .create_membership("user_reader", &organization.id, &[])
        .unwrap()
        .id;
    engine
        .assign_role(&reader, "viewer", &ResourceRef::id(&ids[top]))
        .unwrap();
    let outsider = memberships[0].clone();
    Model {
        engine,
        reader,
        outsider,
        deep_leaf: ids[deep_index].clone(),
        depth: depths[deep_index],
    }
}

fn bench_check(c: &mut Criterion) {
    let before = ALLOCATED.load(Ordering::Relaxed);
    let model = build_model();
    let bytes = ALLOCATED.load(Ordering::Relaxed) - before;
    println!(
        "model: {RESOURCES} resources (deepest {} levels below the root), {} memberships, {} assignments: {:.1} MiB allocated",
        model.depth,
        MEMBERSHIPS + 1,
        2 * MEMBERSHIPS + 1,
        bytes as f64 / (1024.0 * 1024.0)
    );
    let leaf = ResourceRef::id(&model.deep_leaf);
    assert!(
        model
            .engine
            .check(&model.reader, "docs:read", &leaf)
            .unwrap()
    );

    c.bench_function("check allowed via an ancestor 8 levels up", |b| {
        b.iter(|| {
            model.engine.check(
                black_box(&model.reader),
                black_box("docs:read"),
                black_box(&leaf),
            )
        })
    });
    c.bench_function("check denied after walking to the root", |b| {
        b.iter(|| {
            model.engine.check(
                black_box(&model.reader),
                black_box("docs:write"),
                black_box(&leaf),
            )
        })
    });
    c.bench_function("check denied, membership with unrelated assignments", |b| {
        b.iter(|| {
            model.engine.check(
                black_box(&model.outsider),
                black_box("docs:read"),
                black_box(&leaf),
            )
        })
    });
    let external_id = model
        .engine
        .get_resource(&model.deep_leaf)
        .unwrap()
        .external_id;
    let request = CheckRequest {
        organization_id: "org_bench".into(),
        organization_membership_id: model.reader.clone(),
        permission: "docs:read".into(),
        resource: ResourceRef::external("doc", external_id),
    };
    c.bench_function("Authorizer decision by external id", |b| {
        b.iter(|| model.engine.decide(black_box(&request)))
    });
}

// `criterion_group!` and `criterion_main!` written out: the macros define undocumented `pub fn`s.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench_check(&mut criterion);
    criterion.final_summary();
}
