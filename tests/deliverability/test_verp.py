"""The per-delivery return path (R-DLV-3): a token names its delivery and cannot be forged."""

import pytest

from backend.mailings import verp


@pytest.fixture(autouse=True)
def bounce_domain(settings):
    settings.BOUNCE_DOMAIN = "bounce.example.org"
    settings.BOUNCE_LOCAL_PART = "bounces"


def test_return_path_round_trip():
    address = verp.return_path(123456)
    assert address.startswith("bounces+") and address.endswith("@bounce.example.org")
    assert verp.delivery_id_from(address) == 123456
    assert verp.delivery_id_from(f" <{address.upper()}> ") == 123456  # case and brackets do not matter


@pytest.mark.parametrize(
    "address",
    [
        "",
        "bounces@bounce.example.org",
        "bounces+@bounce.example.org",
        "other+1e240-0000000000000000@bounce.example.org",
        "bounces+1e240-0000000000000000@bounce.example.org",  # a made-up tag
        "bounces+zz-0123456789abcdef@bounce.example.org",
    ],
)
def test_foreign_or_forged_addresses_name_no_delivery(address):
    assert verp.delivery_id_from(address) is None


def test_another_delivery_tag_does_not_verify():
    one = verp.return_path(1)
    tag = one.split("+", 1)[1].split("-", 1)[1]
    assert verp.delivery_id_from(f"bounces+2-{tag}@bounce.example.org") is None


def test_other_domain_or_secret_names_no_delivery(settings):
    address = verp.return_path(7)
    assert verp.delivery_id_from(address.replace("bounce.example.org", "example.net")) is None
    settings.SECRET_KEY = "another secret key, another server"
    assert verp.delivery_id_from(address) is None


def test_unset_bounce_domain_keeps_the_from_address(settings):
    settings.BOUNCE_DOMAIN = ""
    assert verp.return_path(1) is None
    assert verp.delivery_id_from("bounces+1-0123456789abcdef@") is None
