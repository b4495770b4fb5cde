//! What is generated: the steps of a case and the faults they carry.

use super::*;

// ---- what is generated ----

/// One step of a case, resolved against the model's state when it runs.
#[derive(Debug, Clone)]
pub(super) enum Step {
    /// The next `len` genuine events; `dup` repeats one of them in place.
    Genuine { len: usize, dup: Option<Index> },
    /// Events already applied, sent again.
    Replay { from: Index, len: usize },
    /// `prefix` genuine new events, then a fault, in one batch.
    Batch { prefix: usize, fault: BatchFault },
    /// A link opened with a faulty Hello.
    Hello(HelloFault),
    /// Mail on an open link.
    Mail(MailFault),
    /// Bytes that are not what they claim, on the wire.
    Raw(RawFault),
}

#[derive(Debug, Clone)]
pub(super) enum BatchFault {
    /// The target event replaced by random bytes.
    RandomBytes(Vec<u8>),
    /// The target event cut short.
    Truncate(Index),
    /// Bytes appended to the target event.
    Extend(Vec<u8>),
    /// One bit of the target event's encoding flipped.
    BitFlip(Index),
    /// One bit of the target event's previous hash flipped.
    HashFlip(Index),
    /// The target event's sequence changed.
    Sequence(SequenceChange),
    /// The target event's origin changed.
    Origin(&'static str),
    /// An event of the sibling commune's journal in place of the target.
    Sibling(Index),
    /// The target left out.
    Gap,
    /// The target and its successor swapped.
    Swap,
    /// A batch starting past the next expected sequence.
    StartAhead(usize),
    /// A well-chained event the content rules must refuse, in place of the target.
    Forged(Forgery),
    /// Unit claims in the batch's `units`.
    Units(UnitsFault),
    /// One event more than a batch may carry.
    TooMany,
    /// One event beyond the message size limit.
    Oversized(usize),
    /// An applied event with a bit flipped, sent again.
    ReplayAltered(Index, Index),
}

#[derive(Debug, Clone)]
pub(super) enum SequenceChange {
    Relative(i64),
    Absolute(u64),
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Record {
    Visit,
    Petition,
    Case,
}

#[derive(Debug, Clone)]
pub(super) enum Forgery {
    /// The record names the sibling commune as its unit.
    RecordUnit(Record),
    /// The record takes the id of a record the sibling commune holds.
    StolenId(Record),
    /// A petition snapshot carrying personal details.
    Petitioner,
    /// An enum value this release does not know.
    UnknownEnum(i32),
    /// A control character in a text.
    ControlCharacter,
    /// No change at all.
    NoChange,
    /// No event time.
    NoTime,
    /// An event time with nanos out of range.
    BadNanos(i32),
    /// A NUL in the event's action.
    NulAction,
    /// A NUL in a visit's schedule entry id.
    NulScheduleId,
    /// The sibling commune registered below the child.
    RegisterSibling,
    /// The town registered below the child.
    RegisterTown,
    /// A new unit registered below the sibling commune.
    RegisterBelowSibling,
}

#[derive(Debug, Clone)]
pub(super) enum UnitsFault {
    /// The sibling commune moved below the child.
    ReparentSibling,
    /// The town below the child.
    Town,
    /// The child below itself.
    ChildItself,
    /// A new unit below a unit nobody knows.
    UnknownParent,
    /// A new unit below the sibling commune.
    BelowSibling,
    /// A unit that is not one (bad code, no name, unknown level).
    Malformed(usize),
    /// A valid new unit, then events with a gap: the whole batch is refused.
    NewUnitThenGap,
}

#[derive(Debug, Clone)]
pub(super) enum HelloFault {
    /// The first message is not a Hello.
    NotFirst(usize),
    /// Another protocol version.
    Version(u32),
    /// No unit.
    NoUnit,
    /// A unit that is not one.
    BadUnit(usize),
    /// The town as its own child.
    TownAsChild,
    /// Subtree claims.
    Subtree(usize),
    /// A long subtree list: a chain of new units given bottom-up, its top below nobody.
    HugeSubtree(usize),
    /// A chain of new units below the child, top-down, deeper than any administrative tree.
    DeepSubtree(usize),
    /// Journal heads.
    Heads(usize, Index),
    /// Many heads.
    HugeHeads(usize),
    /// The child's unit with another parent.
    ClaimsParent(&'static str),
}

#[derive(Debug, Clone)]
pub(super) enum MailFault {
    BadId(usize),
    BadDestination(&'static str),
    BadSource(&'static str),
    ForgedSource(&'static str),
    NoContent,
    NoPetition,
    MalformedPetition,
    /// A transfer of a petition that names the sibling commune as its unit.
    ForeignTransfer,
    /// A case result for a petition the sibling commune holds.
    ForgedResult,
    /// Mail for elsewhere, which the town only forwards.
    Elsewhere(&'static str),
}

#[derive(Debug, Clone)]
pub(super) enum RawFault {
    FirstGarbage(Vec<u8>),
    TruncatedHello(Index),
    ExtendedHello(Vec<u8>),
    GarbageAfterHello(Vec<u8>),
    TruncatedBatch(Index),
    ExtendedBatch(Vec<u8>),
    HelloAgain,
    EmptyMessage,
    StrayMailAck(String),
}

pub(super) fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 1..max)
}

pub(super) fn batch_fault() -> impl Strategy<Value = BatchFault> {
    let sequence = prop_oneof![
        prop_oneof![-3i64..=-1, 1i64..=3].prop_map(SequenceChange::Relative),
        any::<u64>().prop_map(SequenceChange::Absolute),
        Just(SequenceChange::Absolute(0)),
        Just(SequenceChange::Absolute(u64::MAX)),
        Just(SequenceChange::Absolute(1 << 63)),
    ];
    let origin = prop::sample::select(vec![
        OTHER.code, TOWN.code, "99999", "", "0957", "09574 ", "01",
    ]);
    let record = prop::sample::select(vec![Record::Visit, Record::Petition, Record::Case]);
    let forgery = prop_oneof![
        record.clone().prop_map(Forgery::RecordUnit),
        record.prop_map(Forgery::StolenId),
        Just(Forgery::Petitioner),
        prop_oneof![Just(-1i32), 4i32..=i32::MAX, Just(i32::MIN)].prop_map(Forgery::UnknownEnum),
        Just(Forgery::ControlCharacter),
        Just(Forgery::NoChange),
        Just(Forgery::NoTime),
        prop_oneof![Just(-1i32), 1_000_000_000i32..=i32::MAX].prop_map(Forgery::BadNanos),
        Just(Forgery::NulAction),
        Just(Forgery::NulScheduleId),
        Just(Forgery::RegisterSibling),
        Just(Forgery::RegisterTown),
        Just(Forgery::RegisterBelowSibling),
    ];
    let units = prop_oneof![
        Just(UnitsFault::ReparentSibling),
        Just(UnitsFault::Town),
        Just(UnitsFault::ChildItself),
        Just(UnitsFault::UnknownParent),
        Just(UnitsFault::BelowSibling),
        (0usize..4).prop_map(UnitsFault::Malformed),
        Just(UnitsFault::NewUnitThenGap),
    ];
    prop_oneof![
        3 => bytes(96).prop_map(BatchFault::RandomBytes),
        3 => any::<Index>().prop_map(BatchFault::Truncate),
        3 => bytes(24).prop_map(BatchFault::Extend),
        6 => any::<Index>().prop_map(BatchFault::BitFlip),
        3 => any::<Index>().prop_map(BatchFault::HashFlip),
        3 => sequence.prop_map(BatchFault::Sequence),
        3 => origin.prop_map(BatchFault::Origin),
        2 => any::<Index>().prop_map(BatchFault::Sibling),
        2 => Just(BatchFault::Gap),
        2 => Just(BatchFault::Swap),
        2 => (1usize..=3).prop_map(BatchFault::StartAhead),
        8 => forgery.prop_map(BatchFault::Forged),
        4 => units.prop_map(BatchFault::Units),
        1 => Just(BatchFault::TooMany),
        1 => (1usize..=4096).prop_map(BatchFault::Oversized),
        3 => (any::<Index>(), any::<Index>()).prop_map(|(e, b)| BatchFault::ReplayAltered(e, b)),
    ]
}

pub(super) fn hello_fault() -> impl Strategy<Value = HelloFault> {
    prop_oneof![
        2 => (0usize..4).prop_map(HelloFault::NotFirst),
        2 => prop_oneof![Just(0u32), 2u32..=u32::MAX].prop_map(HelloFault::Version),
        1 => Just(HelloFault::NoUnit),
        2 => (0usize..6).prop_map(HelloFault::BadUnit),
        1 => Just(HelloFault::TownAsChild),
        2 => (0usize..5).prop_map(HelloFault::Subtree),
        1 => (500usize..=4000).prop_map(HelloFault::HugeSubtree),
        1 => (20usize..=200).prop_map(HelloFault::DeepSubtree),
        4 => ((0usize..6), any::<Index>()).prop_map(|(k, i)| HelloFault::Heads(k, i)),
        1 => (5_000usize..=20_000).prop_map(HelloFault::HugeHeads),
        2 => prop::sample::select(vec!["01", OTHER.code, TOWN.code, "99999"])
            .prop_map(HelloFault::ClaimsParent),
    ]
}

pub(super) fn mail_fault() -> impl Strategy<Value = MailFault> {
    let code = || prop::sample::select(vec!["", "abc", "123456", "0957a", " 0957"]);
    prop_oneof![
        1 => (0usize..4).prop_map(MailFault::BadId),
        1 => code().prop_map(MailFault::BadDestination),
        1 => code().prop_map(MailFault::BadSource),
        2 => prop::sample::select(vec![OTHER.code, TOWN.code, "99999", "01"])
            .prop_map(MailFault::ForgedSource),
        1 => Just(MailFault::NoContent),
        1 => Just(MailFault::NoPetition),
        1 => Just(MailFault::MalformedPetition),
        2 => Just(MailFault::ForeignTransfer),
        2 => Just(MailFault::ForgedResult),
        1 => prop::sample::select(vec!["99999", OTHER.code, CHILD.code]).prop_map(MailFault::Elsewhere),
    ]
}

pub(super) fn raw_fault() -> impl Strategy<Value = RawFault> {
    prop_oneof![
        bytes(64).prop_map(RawFault::FirstGarbage),
        any::<Index>().prop_map(RawFault::TruncatedHello),
        bytes(16).prop_map(RawFault::ExtendedHello),
        bytes(64).prop_map(RawFault::GarbageAfterHello),
        any::<Index>().prop_map(RawFault::TruncatedBatch),
        bytes(16).prop_map(RawFault::ExtendedBatch),
        Just(RawFault::HelloAgain),
        Just(RawFault::EmptyMessage),
        "[ -~]{0,80}".prop_map(RawFault::StrayMailAck),
    ]
}

pub(super) fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (1usize..=6, any::<Option<Index>>()).prop_map(|(len, dup)| Step::Genuine { len, dup }),
        1 => (50usize..=150).prop_map(|len| Step::Genuine { len, dup: None }),
        3 => (any::<Index>(), 1usize..=5).prop_map(|(from, len)| Step::Replay { from, len }),
        20 => ((0usize..=2), batch_fault()).prop_map(|(prefix, fault)| Step::Batch { prefix, fault }),
        6 => hello_fault().prop_map(Step::Hello),
        6 => mail_fault().prop_map(Step::Mail),
        5 => raw_fault().prop_map(Step::Raw),
    ]
}

pub(super) fn case() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(step(), 1..=MAX_STEPS)
}
