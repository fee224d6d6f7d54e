use super::alloc::buckets_for;
use super::*;

fn learn(c: &mut TemplateCache, ip: [u8; 4], id: u16, n: u16, lim: &Limits) -> DecodeStats {
    let fields: Vec<FieldSpec> = (0..n)
        .map(|i| FieldSpec {
            id: 1 + i,
            len: 4,
            pen: 0,
        })
        .collect();
    let mut st = DecodeStats::default();
    c.learn(
        &Addr::v4(ip),
        &Learn {
            version: 10,
            domain: 1,
            id,
            options: false,
            scope_count: 0,
            fields: &fields,
            now_ns: 5,
        },
        lim,
        &mut st,
    );
    st
}

#[test]
fn expire_snapshot_restore() {
    let lim = Limits::default();
    let mut c = TemplateCache::default();
    learn(&mut c, [1, 1, 1, 1], 256, 3, &lim);
    learn(&mut c, [2, 2, 2, 2], 257, 2, &lim);
    let added = c
        .exporter_mut(&Addr::v4([1, 1, 1, 1]))
        .unwrap()
        .rates
        .store(10, 1, Some(3), Some(100), 0, 10);
    assert!(added);
    c.rates_grew(&Addr::v4([1, 1, 1, 1]), &lim, &mut DecodeStats::default());
    assert_eq!(c.template_bytes(), c.recount());
    assert!(c.take_dirty());
    assert!(!c.take_dirty());
    let snap = c.snapshot();
    assert_eq!(snap.len(), 2);
    let mut d = TemplateCache::default();
    let mut st = DecodeStats::default();
    assert_eq!(d.restore(&snap, &lim, &mut st, 0), 2);
    assert_eq!(st.templates_learned, 0);
    assert!(!d.take_dirty());
    // the same templates, loaded from the state file rather than learned from the wire
    let wire: Vec<_> = d
        .templates()
        .into_iter()
        .map(|t| {
            assert_eq!(t.origin, "state");
            TemplateInfo {
                origin: "wire",
                ..t
            }
        })
        .collect();
    assert_eq!(wire, c.templates());
    assert_eq!(d.sampling_rates(), c.sampling_rates());
    assert_eq!(d.template_bytes(), c.template_bytes());
    // limits apply on load
    let small = Limits {
        max_exporters: 1,
        ..lim
    };
    let mut e = TemplateCache::default();
    let mut st = DecodeStats::default();
    e.restore(&snap, &small, &mut st, 0);
    assert_eq!(e.exporter_count(), 1);
    assert!(st.limits[LimitKind::Exporters as usize] >= 1);
    // learned at 5 ns: expires with any later cutoff; the exporter with a rate stays
    assert_eq!(c.expire(5), 0);
    assert_eq!(c.expire(6), 2);
    assert!(c.take_dirty());
    assert_eq!(c.template_count(), 0);
    assert_eq!(c.template_bytes(), c.recount());
    assert_eq!(c.exporter_count(), 1);
    assert_eq!(c.expired, 2);
}

#[test]
fn bounded_and_lru() {
    let lim = Limits {
        max_exporters: 2,
        max_templates_per_exporter: 2,
        max_fields_per_template: 4,
        max_template_bytes: 1 << 20,
        ..Limits::default()
    };
    let mut c = TemplateCache::default();
    assert_eq!(
        learn(&mut c, [1, 1, 1, 1], 256, 2, &lim).templates_learned,
        1
    );
    assert_eq!(
        learn(&mut c, [1, 1, 1, 1], 257, 2, &lim).templates_learned,
        1
    );
    // a third template evicts the exporter's least recently used one
    let st = learn(&mut c, [1, 1, 1, 1], 258, 2, &lim);
    assert_eq!(st.limits[LimitKind::TemplatesPerExporter as usize], 1);
    assert_eq!(st.templates_learned, 1);
    assert_eq!(c.template_count(), 2);
    // identical re-send: refresh, no new learn
    assert_eq!(
        learn(&mut c, [1, 1, 1, 1], 258, 2, &lim).templates_learned,
        0
    );
    let st = learn(&mut c, [1, 1, 1, 1], 258, 5, &lim);
    assert_eq!(st.limits[LimitKind::FieldsPerTemplate as usize], 1);
    learn(&mut c, [2, 2, 2, 2], 256, 1, &lim);
    // touch exporter 1 so that 2 is the least recently used
    c.exporter_mut(&Addr::v4([1, 1, 1, 1]));
    let st = learn(&mut c, [3, 3, 3, 3], 256, 1, &lim);
    assert_eq!(st.limits[LimitKind::Exporters as usize], 1);
    assert_eq!(c.exporter_count(), 2);
    assert!(c.exporter_mut(&Addr::v4([2, 2, 2, 2])).is_none());
    assert_eq!(c.template_count(), 3);
    assert_eq!(c.template_bytes(), c.recount());
    let before = c.template_bytes();
    c.withdraw_all(&Addr::v4([1, 1, 1, 1]), 10, 1, false);
    assert!(c.template_bytes() < before);
    assert_eq!(c.template_bytes(), c.recount());
    // a cap that even one exporter exceeds: the others are evicted, the template refused
    let lim2 = Limits {
        max_template_bytes: 10,
        ..lim
    };
    let st = learn(&mut c, [3, 3, 3, 3], 300, 1, &lim2);
    assert_eq!(st.limits[LimitKind::TemplateBytes as usize], 1);
    assert_eq!(st.templates_learned, 0);
    assert_eq!(c.templates().len(), 1);
    assert_eq!(c.exporter_count(), 1);
    assert_eq!(c.template_bytes(), c.recount());
}

#[test]
fn accounts_heap_not_wire_bytes() {
    assert_eq!(alloc_size(0), 0);
    assert_eq!(alloc_size(20), 24);
    assert_eq!(alloc_size(64), 64);
    assert_eq!(alloc_size(65), 80);
    assert_eq!(alloc_size(320), 320);
    assert_eq!(alloc_size(321), 384);
    assert_eq!(
        (buckets_for(3), buckets_for(7), buckets_for(14)),
        (4, 8, 16)
    );
    assert_eq!(
        (buckets_for(15), buckets_for(28), buckets_for(29)),
        (32, 32, 64)
    );
    let lim = Limits::default();
    let mut c = TemplateCache::default();
    learn(&mut c, [1, 1, 1, 1], 256, 40, &lim);
    // 164 bytes on the wire; the field list alone is 320 bytes of heap
    let one = c.template_bytes();
    let fields = 40 * size_of::<FieldSpec>();
    assert!(one > fields + table_bytes::<(Addr, Exporter)>(4), "{one}");
    assert_eq!(one, c.recount());
    // a second template: its field list and plan more, no table growth (4 buckets hold 3)
    learn(&mut c, [1, 1, 1, 1], 257, 40, &lim);
    let two = c.template_bytes();
    assert!(two - one >= fields, "{one} {two}");
    assert_eq!(two, c.recount());
    // tables keep their buckets when entries go
    c.withdraw(&Addr::v4([1, 1, 1, 1]), 10, 1, 257);
    assert_eq!(c.template_bytes(), one);
}

#[test]
fn cap_evicts_least_recently_used_exporters() {
    let lim = Limits::default();
    let mut c = TemplateCache::default();
    for i in 1..=4 {
        learn(&mut c, [10, 0, 0, i], 256, 40, &lim);
    }
    let four = c.template_bytes();
    // the budget keeps headroom under the cap, and is exact for any cap
    assert!(budget(four) < four);
    assert_eq!(budget(16 << 20), 11 << 20);
    assert_eq!(budget(usize::MAX), usize::MAX / 16 * 11 + 15 * 11 / 16);
    // room for about three of them: learning a fifth evicts the least recently used
    // (10.0.0.2 after 10.0.0.1 is touched), never the exporter learning
    let cap = Limits {
        max_template_bytes: four - 1,
        ..lim
    };
    c.exporter_mut(&Addr::v4([10, 0, 0, 1]));
    let st = learn(&mut c, [10, 0, 0, 5], 256, 40, &cap);
    assert_eq!(st.limits[LimitKind::TemplateBytes as usize], 1);
    assert_eq!(st.templates_learned, 1);
    assert!(c.template_bytes() <= budget(cap.max_template_bytes));
    assert_eq!(c.template_bytes(), c.recount());
    assert!(c.exporter_mut(&Addr::v4([10, 0, 0, 2])).is_none());
    assert!(c.exporter_mut(&Addr::v4([10, 0, 0, 1])).is_some());
    assert!(c.exporter_mut(&Addr::v4([10, 0, 0, 5])).is_some());
    // a flood of new exporters never takes the state past the cap
    for i in 0..2000u32 {
        let [_, a, b, d] = (i + 100).to_be_bytes();
        learn(&mut c, [11, a, b, d], 256 + (i % 7) as u16, 40, &cap);
        assert!(
            c.template_bytes() <= budget(cap.max_template_bytes),
            "after {i}"
        );
    }
    assert_eq!(c.template_bytes(), c.recount());
}
