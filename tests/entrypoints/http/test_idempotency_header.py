"""The ``Idempotency-Key`` value: every key a client may hold survives quoting, and a
bare token means the same key as its quoted form."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st
from litestar.plugins.problem_details import ProblemDetailsException

from auxot.entrypoints.http.request_options import parse_idempotency_key

PRINTABLE = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=255
)
TOKEN = st.text(alphabet=string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~:/", min_size=1)


def quoted(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


@given(PRINTABLE)
def test_any_printable_key_round_trips_through_a_quoted_string(key: str) -> None:
    assert parse_idempotency_key(quoted(key)) == key
    assert parse_idempotency_key(f" \t{quoted(key)} ") == key  # optional whitespace


@given(TOKEN.filter(lambda t: len(t) <= 255))
def test_a_bare_token_is_the_same_key_as_its_quoted_form(token: str) -> None:
    assert parse_idempotency_key(token) == parse_idempotency_key(quoted(token)) == token


@given(st.text(min_size=1).filter(lambda t: any(not " " <= c <= "~" for c in t)))
def test_anything_but_printable_ascii_is_refused(key: str) -> None:
    with pytest.raises(ProblemDetailsException) as refused:
        parse_idempotency_key(quoted(key))
    assert refused.value.status_code == 400
