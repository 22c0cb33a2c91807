"""Global IDs in, primary keys out. A malformed ID, an ID of another type and another owner's ID all end as
the same NotFound (R-AUTH-4); the lookup itself always goes through an owner-scoped selector."""

from graphql_relay import from_global_id

from .errors import NotFound


def pk_from_global_id(global_id: str, type_name: str) -> int:
    try:
        kind, raw_pk = from_global_id(global_id)
        pk = int(raw_pk)
    except (TypeError, ValueError, UnicodeDecodeError):
        raise NotFound() from None
    # Beyond the database's 64-bit keys no row can match (and SQLite would fail on the number itself).
    if kind != type_name or not 0 < pk < 2**63:
        raise NotFound()
    return pk


def pks_from_global_ids(global_ids: list[str], type_name: str) -> list[int]:
    """For an ID list inside an input (a mailing's clients): an undecodable ID becomes a key that matches no
    row, so the form refuses it exactly like another owner's or a deleted one."""
    pks = []
    for global_id in global_ids:
        try:
            pks.append(pk_from_global_id(global_id, type_name))
        except NotFound:
            pks.append(0)
    return pks
