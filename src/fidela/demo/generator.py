"""Orchestration: simulate blocks of customers, assemble chunks, stream them to files.

A run is a sequence of blocks of `BLOCK_SIZE` customers. `simulate_block` is a pure function of
``(RunContext, block)``: it draws profiles, the fraud plan, BG/NBD purchases, baskets, money,
returns and activity with the block's own random streams, and returns frames whose references
are block-local. `assemble` turns a block into Arrow tables with global ids, using running
counters of rows per id kind, in block order. Chunks (``chunk_size`` customers rounded up to
whole blocks) are written as one batch per table, so memory is bounded by a chunk, and the
output does not depend on the chunk size: CSV files are byte-identical, Parquet files hold the
same rows and differ only in row group boundaries.

Writing happens in a background thread (`BackgroundWriter`) while the next chunk is simulated:
Arrow's encoders release the GIL, so this uses a second core without copying data between
processes, and a single writer keeps the files identical to inline writing.
"""

from __future__ import annotations

import importlib.metadata
import pathlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from fidela.demo.config import GenerationConfig
from fidela.demo.context import RunContext, build_context
from fidela.demo.customers import (
    CONSENTS,
    Profiles,
    device_bits,
    draw_profiles,
    email_column,
    interests_column,
    loyalty_card_column,
    phone_column,
    uuid_column,
)
from fidela.demo.feedback import draw_reviews, draw_support, draw_surveys
from fidela.demo.frames import Frame, concat, sort_rows
from fidela.demo.fraud import (
    farming_events,
    fraud_frame,
    link_cases,
    open_ring_cases,
    plan_fraud,
    takeovers,
)
from fidela.demo.messaging import draw_email_events
from fidela.demo.purchases import (
    REGULAR,
    Behaviour,
    add_settled,
    draw_behaviour,
    draw_returns,
    fill_baskets,
    order_frame,
    settle,
)
from fidela.demo.segments import NULL_INDEX, FloatArray, IntArray
from fidela.demo.sessions import draw_sessions
from fidela.demo.social import draw_referrals, draw_shares, referral_codes
from fidela.demo.streams import Stream, block_rng
from fidela.demo.tables import ID_KINDS, TABLES, to_arrow
from fidela.demo.truth import parameters_document, truth_frame
from fidela.demo.writer import BackgroundWriter, TableSink, manifest_document, write_json

Progress = Callable[[int, int], None]


def _version() -> str:
    try:
        return importlib.metadata.version("fidela")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


@dataclass(frozen=True)
class GenerationReport:
    """What a run wrote: row counts per table (truth tables as ``truth/...``), every file
    written, and the wall time in seconds (reporting only)."""

    out_dir: pathlib.Path
    rows: dict[str, int]
    files: list[pathlib.Path]
    seconds: float


@dataclass
class BlockResult:
    """A simulated block: frames with block-local references, prebuilt text columns, and the
    block rows each fraud case involves."""

    block: int
    frames: dict[str, Frame]
    prebuilt: dict[str, dict[str, pa.Array]]
    fraud_related: list[list[tuple[str, IntArray]]] = field(default_factory=list)


def simulate_block(ctx: RunContext, block: int) -> BlockResult:
    """Everything about the customers of ``block`` (pure in ``ctx`` and ``block``)."""

    def rng(stream: Stream) -> np.random.Generator:
        return block_rng(ctx.seed, block, stream)

    index = ctx.block_indices(block)
    base = draw_profiles(ctx.seed, index, ctx.customers, ctx.calendar, ctx.home_stores)
    # One generator per concern, used in sequence (never two generators on one stream).
    fraud_rng = rng(Stream.FRAUD)
    purchase_rng = rng(Stream.PURCHASES)
    plan, profiles = plan_fraud(ctx, base, fraud_rng)
    behaviour, events = draw_behaviour(ctx, profiles, purchase_rng, plan.forced_buyers)
    regular = order_frame(ctx, profiles, behaviour, events, purchase_rng)
    farming = farming_events(ctx, profiles, plan, fraud_rng)
    orders, _ = sort_rows(concat([regular, farming]), "customer", "hours")
    lines = fill_baskets(ctx, orders, behaviour, rng(Stream.BASKETS))
    orders = settle(orders, lines, rng(Stream.MONEY))
    stolen_orders, stolen_lines, stolen_sessions = takeovers(ctx, profiles, plan, orders, fraud_rng)
    orders, lines = add_settled(orders, lines, stolen_orders, stolen_lines)
    # Takeover sessions referenced the appended orders by their pre-sort rows: follow the sort.
    stolen_sessions = _follow_orders(stolen_sessions, orders)
    returns = draw_returns(ctx, profiles.timezone, orders, lines, rng(Stream.RETURNS))
    sessions = draw_sessions(
        ctx, profiles, behaviour, orders, stolen_sessions, rng(Stream.SESSIONS)
    )
    emails, unsubscribed = draw_email_events(ctx, profiles, behaviour, rng(Stream.EMAILS))
    support = draw_support(ctx, profiles, behaviour, orders, returns, rng(Stream.SUPPORT))
    surveys = draw_surveys(ctx, profiles, behaviour, orders, returns, support, rng(Stream.SURVEYS))
    reviews = draw_reviews(ctx, profiles, behaviour, orders, lines, returns, rng(Stream.REVIEWS))
    shares = draw_shares(ctx, profiles.timezone, orders, lines, rng(Stream.SHARES))
    first_order = _first_orders(orders, profiles.size)
    ring_cases = open_ring_cases(plan, profiles)
    referrals = draw_referrals(ctx, profiles, plan, ring_cases, first_order, rng(Stream.REFERRALS))
    link_cases(plan, ring_cases, orders, sessions, referrals, first_order)
    fraud, descriptions = fraud_frame(plan, profiles)

    customers, customer_text = _customer_frame(ctx, profiles, behaviour, unsubscribed)
    # Frames refer to customers by block position; tables want global indices.
    for frame in (orders, returns, sessions, emails, support, surveys, reviews, shares):
        frame["customer"] = profiles.index[frame["customer"]]
    frames = {
        "customers": customers,
        "orders": orders,
        "order_lines": lines,
        "returns": returns,
        "sessions": sessions,
        "email_events": emails,
        "support_interactions": support,
        "survey_answers": surveys,
        "reviews": reviews,
        "social_shares": shares,
        "referrals": referrals,
        "truth/customers": truth_frame(profiles, behaviour, ctx.truth.p_spend),
        "truth/fraud": fraud,
    }
    prebuilt = {
        "customers": customer_text,
        "order_lines": {
            "sku": pa.array(ctx.catalogue.product_skus).take(pa.array(lines["product"]))
        },
        "sessions": {
            "device_id": uuid_column(
                sessions["device_hi"], sessions["device_lo"], sessions["has_device"]
            )
        },
        "referrals": {"code": referral_codes(ctx.seed, referrals["referrer"])},
        "truth/fraud": {"description": pa.array(descriptions, type=pa.string())},
    }
    return BlockResult(
        block=block,
        frames=frames,
        prebuilt=prebuilt,
        fraud_related=[case.related for case in plan.cases],
    )


def _follow_orders(sessions: Frame, orders: Frame) -> Frame:
    """Re-point takeover sessions at their orders after the orders were sorted."""
    if not sessions or sessions["customer"].size == 0:
        return {}
    out = dict(sessions)
    fraud_rows = np.flatnonzero(orders["kind"] != REGULAR)
    target = np.full(sessions["order"].size, NULL_INDEX, dtype=np.int64)
    # Takeover orders of one case are consecutive in time, so the k-th converted session of a
    # case maps to the k-th order of that case.
    for case in np.unique(sessions["fraud"]):
        session_rows = np.flatnonzero((sessions["fraud"] == case) & (sessions["order"] >= 0))
        case_orders = fraud_rows[orders["fraud"][fraud_rows] == case]
        rank = np.argsort(np.argsort(sessions["order"][session_rows]))
        target[session_rows] = case_orders[rank]
    out["order"] = target
    return out


def _first_orders(orders: Frame, n: int) -> IntArray:
    """Row of each customer's first regular (trial) order, or -1."""
    first = np.full(n, NULL_INDEX, dtype=np.int64)
    regular = np.flatnonzero(orders["kind"] == REGULAR)
    customers, at = np.unique(orders["customer"][regular], return_index=True)
    first[customers] = regular[at]
    return first


def _customer_frame(
    ctx: RunContext,
    profiles: Profiles,
    behaviour: Behaviour,
    unsubscribed: FloatArray,
) -> tuple[Frame, dict[str, pa.Array]]:
    frame: Frame = {
        "customer": profiles.index,
        "first_name": profiles.first_name,
        "last_name": profiles.last_name,
        "gender": profiles.gender,
        "birth_date": profiles.birth_day,
        "city": profiles.city,
        "country": profiles.country,
        "language": profiles.language,
        "timezone": profiles.timezone,
        "signup_at": profiles.signup_hours,
        "signup_channel": profiles.signup_channel,
        "preferred_channel": profiles.preferred_channel,
    }
    for k, name in enumerate(CONSENTS):
        frame[name] = profiles.consents[:, k].copy()
    # The table shows consents as they stand at the end: an unsubscribe withdraws email consent.
    frame[CONSENTS[0]] &= np.isnan(unsubscribed)
    owner_rows = np.searchsorted(profiles.index, profiles.email_owner)
    in_block = (owner_rows < profiles.size) & (
        profiles.index[np.minimum(owner_rows, profiles.size - 1)] == profiles.email_owner
    )
    if not in_block.all():
        raise RuntimeError("email aliases must point into the same block")
    hi, lo = device_bits(ctx.seed, profiles.device_owner)
    text = {
        "email": email_column(
            ctx.seed,
            profiles.email_owner,
            profiles.first_name[owner_rows],
            profiles.last_name[owner_rows],
            profiles.email_tag,
            ctx.customers,
        ),
        "phone": phone_column(
            ctx.seed,
            profiles.phone_owner,
            profiles.country[np.searchsorted(profiles.index, profiles.phone_owner)],
        ),
        "loyalty_card": loyalty_card_column(ctx.seed, profiles.index),
        "device_id": uuid_column(hi, lo, profiles.has_app),
        "interests": interests_column(behaviour.category_weights, profiles.lifestyle),
    }
    return frame, text


def assemble(result: BlockResult, offsets: dict[str, int], ctx: RunContext) -> dict[str, pa.Table]:
    """Arrow tables of a block; advances ``offsets`` by the rows of each counted id kind."""
    prebuilt = dict(result.prebuilt)
    prebuilt["truth/fraud"] = dict(prebuilt["truth/fraud"])
    prebuilt["truth/fraud"]["related_ids"] = pa.array(
        [
            ";".join(
                ID_KINDS[kind].one(int(row) + offsets[kind] + 1)
                for kind, rows in related
                for row in rows
            )
            for related in result.fraud_related
        ],
        type=pa.string(),
    )
    tables = {
        spec.name: to_arrow(
            spec, result.frames[spec.name], prebuilt.get(spec.name, {}), offsets, ctx.calendar
        )
        for spec in TABLES
    }
    for spec in TABLES:
        if spec.own is not None:
            offsets[spec.own.name] = offsets.get(spec.own.name, 0) + tables[spec.name].num_rows
    return tables


Chunk = tuple[dict[str, pa.Table], int]  # tables of a chunk, customers done after it


def _chunks(ctx: RunContext, blocks_per_chunk: int) -> Iterator[Chunk]:
    """Assembled chunks in order (block results are assembled in block order)."""
    offsets = dict.fromkeys(ID_KINDS, 0)
    done = 0
    for first in range(0, ctx.blocks, blocks_per_chunk):
        parts: dict[str, list[pa.Table]] = {spec.name: [] for spec in TABLES}
        for block in range(first, min(first + blocks_per_chunk, ctx.blocks)):
            result = simulate_block(ctx, block)
            for name, table in assemble(result, offsets, ctx).items():
                parts[name].append(table)
            done += int(result.frames["customers"]["customer"].size)
        yield {name: pa.concat_tables(tables) for name, tables in parts.items()}, done


def generate(
    config: GenerationConfig,
    progress: Progress | None = None,
    *,
    background_writes: bool = True,
) -> GenerationReport:
    """Generate the demo data set described by ``config`` into ``config.out_dir``.

    Calls ``progress(customers_done, customers_total)`` after each chunk. Same config, same
    bytes: nothing depends on the clock or the machine. ``background_writes`` writes files in
    a second thread while the next chunk is simulated (the output does not depend on it).
    """
    started = time.perf_counter()
    version = _version()
    out_dir = pathlib.Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = build_context(config)
    static = {
        "stores": ctx.catalogue.stores_table(),
        "products": ctx.catalogue.products_table(),
    }
    static_files: dict[str, list[pathlib.Path]] = {}
    for name, table in static.items():
        static_sink = TableSink(out_dir, name, table.schema, config.formats)
        try:
            static_sink.write(table)
        finally:
            static_sink.close()
        static_files[name] = static_sink.paths
    sinks = {
        spec.name: TableSink(
            out_dir, spec.name, spec.schema, config.formats, spec.dictionary_columns
        )
        for spec in TABLES
    }
    try:
        writer = BackgroundWriter(sinks) if background_writes else None
        try:
            for tables, done in _chunks(ctx, config.blocks_per_chunk):
                if writer is None:
                    for name, table in tables.items():
                        sinks[name].write(table)
                else:
                    writer.submit(tables)
                del tables
                if progress is not None:
                    progress(done, config.customers)
        finally:
            if writer is not None:
                writer.close()
    finally:
        for sink in sinks.values():
            sink.close()

    rows = {name: table.num_rows for name, table in static.items()}
    rows.update({name: sink.rows for name, sink in sinks.items()})
    files = dict(static_files)
    files.update({name: sink.paths for name, sink in sinks.items()})
    parameters = out_dir / "truth" / "parameters.json"
    write_json(parameters, parameters_document(config, version))
    manifest = out_dir / "manifest.json"
    write_json(
        manifest,
        manifest_document(
            out_dir,
            version,
            {
                "seed": config.seed,
                "customers": config.customers,
                "end": config.end.isoformat(),
                "years": config.years,
                "formats": list(config.formats),
                "chunk_size": config.chunk_size,
            },
            rows,
            files,
            [parameters],
        ),
    )
    written = [path for paths in files.values() for path in paths] + [parameters, manifest]
    return GenerationReport(
        out_dir=out_dir, rows=rows, files=written, seconds=time.perf_counter() - started
    )
