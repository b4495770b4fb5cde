#!/usr/bin/env python3
"""Interoperability check of a tiepdan node from an independent client.

Python's grpcio, with no generated code: the message classes are built at run time from the
file descriptors the node serves over server reflection (v1alpha, which grpcio-reflection
speaks, cross-checked against v1). The script walks the shortest path through a node —
record a visit, receive and classify a petition, accept it into a new case, resolve the case —
reads everything back, and checks that a bad request fails with INVALID_ARGUMENT and standard
error details.

Usage: python3 interop.py HOST:PORT   (an http:// prefix is accepted)
Exits 0 when every check passes, 1 on the first failed check, 2 on bad usage.
"""

import signal
import sys
import uuid

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

PACKAGE = "tiepdan.v1"
SERVICES = ["UnitService", "ReceptionService", "PetitionService", "CaseService", "JournalService"]
TIMEOUT = 10.0
# The whole run ends by then at the latest: SIGALRM's default action ends the process.
RUN_LIMIT_SECONDS = 120

# Times in the past, in order, as the node requires (2019-06-08 onward, UTC seconds).
VISIT_TIME = 1_560_000_000
RECEIVED_TIME = 1_560_000_100
ACCEPT_TIME = 1_560_100_000
DECISION_TIME = 1_561_000_000


class CheckFailed(Exception):
    """A check against the node's answers failed."""


def check(condition, what):
    if not condition:
        raise CheckFailed(what)


def check_eq(actual, expected, what):
    if actual != expected:
        raise CheckFailed(f"{what}: expected {expected!r}, got {actual!r}")


class Node:
    """A node seen only through reflection: services, message classes and enum numbers."""

    def __init__(self, channel):
        self.channel = channel
        self.db = ProtoReflectionDescriptorDatabase(channel)
        self.pool = descriptor_pool.DescriptorPool(self.db)

    def services(self):
        return list(self.db.get_services())

    def message(self, name):
        return message_factory.GetMessageClass(self.pool.FindMessageTypeByName(f"{PACKAGE}.{name}"))

    def enum(self, enum_name, value_name):
        enum = self.pool.FindEnumTypeByName(f"{PACKAGE}.{enum_name}")
        return enum.values_by_name[value_name].number

    def call(self, service, method, **fields):
        """Calls a unary method with a request built from `fields`; returns the response."""
        return self.call_with(service, method, self.request(service, method, **fields))

    def request(self, service, method, **fields):
        desc = self.pool.FindServiceByName(f"{PACKAGE}.{service}").FindMethodByName(method)
        return message_factory.GetMessageClass(desc.input_type)(**fields)

    def call_with(self, service, method, request):
        desc = self.pool.FindServiceByName(f"{PACKAGE}.{service}").FindMethodByName(method)
        response_class = message_factory.GetMessageClass(desc.output_type)
        stub = self.channel.unary_unary(
            f"/{PACKAGE}.{service}/{method}",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=response_class.FromString,
        )
        return stub(request, timeout=TIMEOUT)


def reflection_v1_services(channel):
    """Lists services over reflection v1. Its messages are the v1alpha ones on the wire (same
    fields, same numbers), so grpcio-reflection's v1alpha classes serve for both."""
    stub = channel.stream_stream(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    responses = list(stub(iter([request]), timeout=TIMEOUT))
    check_eq(len(responses), 1, "reflection v1 answers")
    answer = responses[0]
    check(
        answer.WhichOneof("message_response") == "list_services_response",
        f"reflection v1 list_services answered {answer.WhichOneof('message_response')}",
    )
    return [s.name for s in answer.list_services_response.service]


def bad_request_violations(error):
    """Field names of the google.rpc.BadRequest in an error's grpc-status-details-bin, decoded
    with descriptors built here (the google.rpc protos ship with no package we use)."""
    details = dict(error.trailing_metadata() or ()).get("grpc-status-details-bin")
    if details is None:
        return None
    rpc = descriptor_pb2.FileDescriptorProto(
        name="interop/google_rpc.proto", package="google.rpc", syntax="proto3"
    )
    status = rpc.message_type.add(name="Status")
    status.field.add(name="code", number=1, type=5, label=1)  # int32
    status.field.add(name="message", number=2, type=9, label=1)  # string
    status.field.add(name="details", number=3, type=11, label=3, type_name=".google.rpc.Any")
    any_ = rpc.message_type.add(name="Any")  # google.protobuf.Any's wire shape
    any_.field.add(name="type_url", number=1, type=9, label=1)
    any_.field.add(name="value", number=2, type=12, label=1)  # bytes
    bad = rpc.message_type.add(name="BadRequest")
    bad.field.add(
        name="field_violations",
        number=1,
        type=11,
        label=3,
        type_name=".google.rpc.BadRequest.FieldViolation",
    )
    violation = bad.nested_type.add(name="FieldViolation")
    violation.field.add(name="field", number=1, type=9, label=1)
    violation.field.add(name="description", number=2, type=9, label=1)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(rpc)
    status_class = message_factory.GetMessageClass(pool.FindMessageTypeByName("google.rpc.Status"))
    bad_class = message_factory.GetMessageClass(pool.FindMessageTypeByName("google.rpc.BadRequest"))
    decoded = status_class.FromString(details)
    fields = []
    for detail in decoded.details:
        if detail.type_url.endswith("/google.rpc.BadRequest"):
            fields += [v.field for v in bad_class.FromString(detail.value).field_violations]
    return fields


def run(address):
    summary = []
    channel = grpc.insecure_channel(address)
    grpc.channel_ready_future(channel).result(timeout=TIMEOUT)
    node = Node(channel)

    # Reflection: both versions list the tiepdan services, health and reflection itself.
    services = node.services()
    for name in SERVICES:
        check(f"{PACKAGE}.{name}" in services, f"{PACKAGE}.{name} missing from {services}")
    check("grpc.health.v1.Health" in services, f"grpc.health.v1.Health missing from {services}")
    # Each reflection version lists itself only; the other services must agree.
    v1 = reflection_v1_services(channel)
    check("grpc.reflection.v1.ServerReflection" in v1, f"reflection v1 missing from {v1}")

    def others(names):
        return sorted(n for n in names if not n.startswith("grpc.reflection."))

    check_eq(others(v1), others(services), "services over reflection v1 and v1alpha")
    summary.append(f"reflection v1alpha and v1: {len(services)} services")

    unit = node.call("UnitService", "GetUnit").unit
    check(unit.code != "", "GetUnit returned a unit without a code")
    summary.append(f"unit {unit.code} {unit.name}")

    Timestamp = node.pool.FindMessageTypeByName("google.protobuf.Timestamp")
    Timestamp = message_factory.GetMessageClass(Timestamp)

    def ts(seconds):
        return Timestamp(seconds=seconds, nanos=0)

    # Tiếp công dân: one visit.
    visit_summary = "Hỏi về bồi thường giải phóng mặt bằng"
    visit = node.call(
        "ReceptionService",
        "RecordVisit",
        request_id=f"py-visit-{uuid.uuid4()}",
        visit_time=ts(VISIT_TIME),
        kind=node.enum("ReceptionKind", "RECEPTION_KIND_REGULAR"),
        receiver_role=node.enum("ReceiverRole", "RECEIVER_ROLE_STAFF"),
        receiver_name="Trần Thị B",
        persons=3,
        matter=node.enum("MatterKind", "MATTER_KIND_FIRST"),
        action=node.enum("ReceptionAction", "RECEPTION_ACTION_ACCEPTED"),
        summary=visit_summary,
    ).visit
    check(visit.id != "", "RecordVisit returned a visit without an id")
    check_eq(visit.unit_code, unit.code, "visit unit")
    check_eq(visit.crowd_group, False, "3 persons are not a crowd group")
    summary.append(f"visit {visit.id}")

    # A bad request: no persons came.
    try:
        node.call(
            "ReceptionService",
            "RecordVisit",
            request_id=f"py-bad-{uuid.uuid4()}",
            visit_time=ts(VISIT_TIME),
            kind=node.enum("ReceptionKind", "RECEPTION_KIND_REGULAR"),
            receiver_role=node.enum("ReceiverRole", "RECEIVER_ROLE_STAFF"),
            persons=0,
            matter=node.enum("MatterKind", "MATTER_KIND_FIRST"),
            action=node.enum("ReceptionAction", "RECEPTION_ACTION_ACCEPTED"),
        )
        raise CheckFailed("RecordVisit with persons=0 succeeded")
    except grpc.RpcError as error:
        check_eq(error.code(), grpc.StatusCode.INVALID_ARGUMENT, "RecordVisit persons=0 status")
        fields = bad_request_violations(error)
        check(fields is not None, "INVALID_ARGUMENT without grpc-status-details-bin")
        check("persons" in fields, f"BadRequest field violations {fields} name no 'persons'")
    summary.append("persons=0 -> INVALID_ARGUMENT with BadRequest(persons)")

    # Xử lý đơn: a first complaint about land, eligible and within jurisdiction.
    petitioner = dict(
        full_name="Nguyễn Văn A",
        address="Số 1 phố Ngô Quyền, Sơn Tây, Hà Nội",
        id_number="001234567890",
        phone="0912345678",
        email="nguyenvana@example.vn",
    )
    petition_summary = "Khiếu nại quyết định thu hồi đất"
    complaint = node.enum("PetitionType", "PETITION_TYPE_COMPLAINT")
    land = node.enum("Field", "FIELD_LAND_HOUSING")
    eligible = node.enum("Eligibility", "ELIGIBILITY_ELIGIBLE")
    within = node.enum("Jurisdiction", "JURISDICTION_WITHIN")
    petition = node.call(
        "PetitionService",
        "ReceivePetition",
        request_id=f"py-petition-{uuid.uuid4()}",
        received_time=ts(RECEIVED_TIME),
        channel=node.enum("Channel", "CHANNEL_IN_PERSON"),
        summary=petition_summary,
        petitioner=node.message("Petitioner")(**petitioner),
        visit_id=visit.id,
        classification=node.message("Classification")(
            type=complaint,
            field=land,
            complaint_round=1,
            eligibility=eligible,
            jurisdiction=within,
        ),
    ).petition
    check_eq(
        petition.status, node.enum("PetitionStatus", "PETITION_STATUS_CLASSIFIED"), "petition status"
    )
    summary.append(f"petition {petition.id} classified")

    # Thụ lý: accept it into a new case.
    accept = node.request(
        "PetitionService",
        "AcceptPetition",
        request_id=f"py-accept-{uuid.uuid4()}",
        petition_id=petition.id,
        accept_time=ts(ACCEPT_TIME),
    )
    accept.new_case.SetInParent()
    check_eq(accept.WhichOneof("target"), "new_case", "AcceptPetition target")
    accepted = node.call_with("PetitionService", "AcceptPetition", accept)
    case = accepted.case
    check(case.id != "", "AcceptPetition returned a case without an id")
    check_eq(list(case.petition_ids), [petition.id], "case petitions")
    check_eq(case.status, node.enum("CaseStatus", "CASE_STATUS_OPEN"), "new case status")
    summary.append(f"case {case.id} opened")

    # The decision.
    decision_number = "15/QĐ-UBND"
    correct = node.enum("CaseOutcome", "CASE_OUTCOME_COMPLAINT_CORRECT")
    resolved = node.call(
        "CaseService",
        "ResolveCase",
        request_id=f"py-resolve-{uuid.uuid4()}",
        case_id=case.id,
        outcome=correct,
        decision_number=decision_number,
        decision_time=ts(DECISION_TIME),
    ).case
    check_eq(resolved.status, node.enum("CaseStatus", "CASE_STATUS_RESOLVED"), "resolved status")
    summary.append(f"case resolved by {decision_number}")

    # Read it all back.
    got = node.call("PetitionService", "GetPetition", petition_id=petition.id).petition
    check_eq(got.id, petition.id, "petition id")
    check_eq(got.unit_code, unit.code, "petition unit")
    check_eq(got.status, node.enum("PetitionStatus", "PETITION_STATUS_ACCEPTED"), "petition status")
    check_eq(got.received_time.seconds, RECEIVED_TIME, "petition received_time")
    check_eq(got.channel, node.enum("Channel", "CHANNEL_IN_PERSON"), "petition channel")
    check_eq(got.summary, petition_summary, "petition summary")
    check_eq(got.type, complaint, "petition type")
    check_eq(got.field, land, "petition field")
    check_eq(got.complaint_round, 1, "petition complaint_round")
    check_eq(got.eligibility, eligible, "petition eligibility")
    check_eq(got.jurisdiction, within, "petition jurisdiction")
    check_eq(got.visit_id, visit.id, "petition visit")
    check_eq(got.case_id, case.id, "petition case")
    check(got.HasField("petitioner"), "GetPetition returned no petitioner")
    for name, value in petitioner.items():
        check_eq(getattr(got.petitioner, name), value, f"petitioner {name}")

    got_case = node.call("CaseService", "GetCase", case_id=case.id).case
    check_eq(got_case.owner_unit, unit.code, "case owner")
    check_eq(got_case.type, complaint, "case type")
    check_eq(got_case.field, land, "case field")
    check_eq(got_case.complaint_round, 1, "case complaint_round")
    check_eq(got_case.status, node.enum("CaseStatus", "CASE_STATUS_RESOLVED"), "case status")
    check_eq(got_case.outcome, correct, "case outcome")
    check_eq(got_case.decision_number, decision_number, "case decision_number")
    check_eq(got_case.decision_time.seconds, DECISION_TIME, "case decision_time")
    check_eq(got_case.accept_time.seconds, ACCEPT_TIME, "case accept_time")
    check_eq(list(got_case.petition_ids), [petition.id], "case petitions")
    check(got_case.resolved_on_time, "a decision 10 days after acceptance is on time")

    visits = node.call("ReceptionService", "ListVisits").visits
    check_eq([v.id for v in visits], [visit.id], "listed visits")
    listed = visits[0]
    check_eq(listed.visit_time.seconds, VISIT_TIME, "visit time")
    check_eq(listed.kind, node.enum("ReceptionKind", "RECEPTION_KIND_REGULAR"), "visit kind")
    check_eq(
        listed.receiver_role, node.enum("ReceiverRole", "RECEIVER_ROLE_STAFF"), "visit receiver_role"
    )
    check_eq(listed.receiver_name, "Trần Thị B", "visit receiver_name")
    check_eq(listed.persons, 3, "visit persons")
    check_eq(listed.matter, node.enum("MatterKind", "MATTER_KIND_FIRST"), "visit matter")
    check_eq(
        listed.action, node.enum("ReceptionAction", "RECEPTION_ACTION_ACCEPTED"), "visit action"
    )
    check_eq(listed.summary, visit_summary, "visit summary")
    summary.append("read back: petition with petitioner, case, visits")

    channel.close()
    return summary


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} HOST:PORT", file=sys.stderr)
        return 2
    address = argv[1].removeprefix("http://")
    signal.alarm(RUN_LIMIT_SECONDS)
    try:
        summary = run(address)
    except CheckFailed as failure:
        print(f"interop FAILED against {address}: {failure}", file=sys.stderr)
        return 1
    except grpc.RpcError as error:
        print(
            f"interop FAILED against {address}: {error.code().name}: {error.details()}",
            file=sys.stderr,
        )
        return 1
    except grpc.FutureTimeoutError:
        print(f"interop FAILED: no connection to {address}", file=sys.stderr)
        return 1
    for line in summary:
        print(f"  {line}")
    print(f"interop OK against {address}: {len(summary)} steps")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
