"""The hotline channel's pure core: a phone call's record in, what a ticket needs out.

The telephony (the hospital's or the vendor's) exports each call — numbers, start
and end, who answered, the recognised conversation — in the format of
docs/hotline-format.md. Here: reading and validating those records (JSON, JSON
Lines, CSV), normalising phone numbers and matching switchboard prefixes, spotting
the system the caller talks about despite recognition errors, and proposing a
severity from the words used. Nothing here touches the database or the network.
"""

from intake.hotline.parse import (
    Row,
    decode_file,
    parse_json,
    parse_turns_cell,
    read_csv,
    read_file,
    read_jsonl,
)
from intake.hotline.phone import (
    PhoneNumber,
    PhoneNumberError,
    match_switchboard,
    normalize_phone,
    normalize_prefix,
)
from intake.hotline.record import AGENT, CALLER, CallRecord, CallRecordError, FieldError, Turn
from intake.hotline.severity import (
    CONSULT,
    CRITICAL,
    MAJOR,
    MINOR,
    RANKS,
    Proposal,
    level_for,
    propose_severity,
)
from intake.hotline.spot import Candidate, SpotResult, spot_system

__all__ = [
    "AGENT", "CALLER", "CONSULT", "CRITICAL", "MAJOR", "MINOR", "RANKS", "CallRecord", "CallRecordError",
    "Candidate", "FieldError", "PhoneNumber", "PhoneNumberError", "Proposal", "Row", "SpotResult", "Turn",
    "decode_file", "level_for", "match_switchboard", "normalize_phone", "normalize_prefix", "parse_json",
    "parse_turns_cell", "propose_severity", "read_csv", "read_file", "read_jsonl", "spot_system",
]
