//! Every redb table of the store, in one place.

use redb::TableDefinition;

/// `format` = "reach", `schema_version`, counters (`next_contact`, `next_block`, `next_dict`, `next_action`).
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// The schema (attributes, kinds and their parameters), postcard, key "schema".
pub const SCHEMA: TableDefinition<&str, &[u8]> = TableDefinition::new("schema");
/// Contact id / `record_rows::PER_ROW` → the postcard `Contact` records of
/// those contacts (see `record_rows`).
pub const CONTACT_RECORDS: TableDefinition<u32, &[u8]> = TableDefinition::new("contact_records");
/// Contact id → postcard `Contact`, a row per contact, up to schema 7:
/// moved into [`CONTACT_RECORDS`] on open.
pub const OLD_CONTACTS: TableDefinition<u32, &[u8]> = TableDefinition::new("contacts");
/// Bucket → lowercased emails and their contact ids (see `key_buckets`).
pub const EMAIL_KEYS: TableDefinition<u32, &[u8]> = TableDefinition::new("contact_emails");
/// Bucket → external ids (verbatim) and their contact ids (see `key_buckets`).
pub const EXTERNAL_ID_KEYS: TableDefinition<u32, &[u8]> = TableDefinition::new("contact_external_ids");
/// Lowercased email → contact id, a row per key, up to schema 6: moved
/// into [`EMAIL_KEYS`] on open.
pub const OLD_BY_EMAIL: TableDefinition<&str, u32> = TableDefinition::new("contacts_by_email");
/// External id → contact id up to schema 6: moved into [`EXTERNAL_ID_KEYS`] on open.
pub const OLD_BY_EXTERNAL_ID: TableDefinition<&str, u32> = TableDefinition::new("contacts_by_external_id");
/// Tag name → serialized roaring bitmap of contact ids.
pub const TAGS: TableDefinition<&str, &[u8]> = TableDefinition::new("tags");
/// Category name → parent name ("" for a root).
pub const CATEGORY_TREE: TableDefinition<&str, &str> = TableDefinition::new("category_tree");
/// Category name → serialized roaring bitmap of directly assigned contacts.
pub const CATEGORY_MEMBERS: TableDefinition<&str, &[u8]> = TableDefinition::new("category_members");
/// Dictionary of event text values, in chunks: chunk number → the ids and
/// texts of `dict::CHUNK_IDS` consecutive ids (see `dict`). The reverse map
/// is built in memory when needed: storing it would cost a second copy of
/// every value.
pub const DICT_CHUNKS: TableDefinition<u32, &[u8]> = TableDefinition::new("dict_chunks");
/// (kind, block id) → columnar block of events of that kind (see `codec`);
/// keyed by kind first so one kind's blocks are one range.
pub const EVENT_BLOCKS: TableDefinition<(u16, u64), &[u8]> = TableDefinition::new("event_blocks");
/// (kind, time span, block id) → (first, last) instant of the block: each
/// kind's blocks by the span of time they hold (see `time_parts`), so a
/// windowed read finds its blocks without reading the others.
pub const EVENT_PARTS: TableDefinition<(u16, u32, u64), (i64, i64)> = TableDefinition::new("event_parts");
/// Contact id / `contact_index::BUCKET` → for each of those contacts with
/// events, the (kind, block id) of every event block holding one of them,
/// in key order (see `contact_index`); no row without a contact.
pub const CONTACT_BLOCKS: TableDefinition<u32, &[u8]> = TableDefinition::new("contact_blocks");
/// (kind, contact id / `summaries::CHUNK`) → the summaries of that kind's
/// events (count, first and last instant, numeric parameters' totals) of
/// each of those contacts with events (see `summaries`).
pub const CONTACT_SUMMARIES: TableDefinition<(u16, u32), &[u8]> = TableDefinition::new("contact_summaries");
/// (field number, contact id / `contact_columns::CHUNK`) → that field's
/// values for those contacts (see `contact_columns`): the contact records'
/// fields as columns, so a criterion reads only the fields it names.
pub const CONTACT_COLUMNS: TableDefinition<(u16, u32), &[u8]> = TableDefinition::new("contact_columns");
/// (contact id, sequence) → postcard `Action`: the contact's non-event timeline.
pub const ACTIONS: TableDefinition<(u32, u64), &[u8]> = TableDefinition::new("actions");
/// (contact id / `action_groups::CHUNK`, sequence) → a timeline entry
/// shared by many contacts and which of those ids have it (see
/// `action_groups`); merged with `ACTIONS` by sequence.
pub const ACTION_GROUPS: TableDefinition<(u32, u64), &[u8]> = TableDefinition::new("action_groups");
/// Segment name → postcard segment record (expression, created, updated).
pub const SEGMENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("segments");
/// (segment name, ts) → size at that moment.
pub const SEGMENT_HISTORY: TableDefinition<(&str, i64), u64> = TableDefinition::new("segment_history");
/// Campaign name → campaign record.
pub const CAMPAIGNS: TableDefinition<&str, &[u8]> = TableDefinition::new("campaigns");
/// Key → policy and other settings documents.
pub const SETTINGS: TableDefinition<&str, &[u8]> = TableDefinition::new("settings");
/// (contact id, idempotency key) → delivery record.
pub const DELIVERIES: TableDefinition<(u32, &str), &[u8]> = TableDefinition::new("deliveries");
/// Journey name → postcard `journey::Journey`.
pub const JOURNEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("journeys");
/// (journey, contact id) → postcard `journey::Enrollment`: the contact's latest run.
pub const ENROLLMENTS: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("journey_enrollments");
/// (due, journey, contact id) → postcard `journey::Enrollment`: the durable
/// timers of waiting runs, each with its run as in `journey_enrollments`
/// (so a step waking a million runs reads them in one pass over its range).
pub const JOURNEY_TIMERS: TableDefinition<(i64, &str, u32), &[u8]> = TableDefinition::new("journey_due_runs");
/// The timers as the first journeys build kept them ((due, journey, contact)
/// → run number): replaced by [`JOURNEY_TIMERS`] on open.
pub const OLD_JOURNEY_TIMERS: TableDefinition<(i64, &str, u32), u32> = TableDefinition::new("journey_timers");
/// (journey, contact id, run, step) → postcard `journey::StepRecord`: each
/// step of each run, written once (the exactly-once key).
pub const JOURNEY_STEPS: TableDefinition<(&str, u32, u32, u32), &[u8]> = TableDefinition::new("journey_steps");

/// Promotion code → postcard `journey::model::PromoCode`: every code a
/// journey handed out, unique.
pub const PROMO_CODES: TableDefinition<&str, &[u8]> = TableDefinition::new("promo_codes");

/// Sequence → postcard `audit::AuditEntry`: every change, who made it,
/// when and through which way in (see `audit`).
pub const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");

/// Tables added after schema version 3 without changing the layout of the
/// others: created on open when missing (older reach versions ignore them).
pub const ADDED_TABLES: [&str; 6] =
    ["journeys", "journey_enrollments", "journey_due_runs", "journey_steps", "audit", "promo_codes"];
