"""The ``mlsd`` command: stats, build-index, search, related, import, sources, remove, assign-topics,
progress.

Library errors become ``Error: ...`` lines and exit code 1, in one place (``MlsdGroup``);
never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from .corpus import load_corpus
from .errors import MlsdError
from .importers import FORMATS
from .model import MODES
from .version import __version__

CONTEXT = {"help_option_names": ["-h", "--help"]}


class MlsdGroup(click.Group):
    """A click group whose commands (and subgroups' commands, which it invokes) turn the library's
    errors into ``Error: ...`` with exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MlsdError as exc:
            raise click.ClickException(str(exc)) from None


@contextlib.contextmanager
def progress_bar(label: str, finish_at_total: bool = False) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback that draws a bar on stderr from its first call.

    A call that never comes (an index already current, an import with nothing new) shows no bar.

    Args:
        finish_at_total: end the bar (and its line) as soon as it is full, so that a bar drawn
            after it, inside the same command, starts on a line of its own.
    """
    with contextlib.ExitStack() as stack:
        bar: list[Any] = []
        done = [0]

        def progress(n: int, total: int) -> None:
            if done[0] < 0:
                return  # finished already
            if not bar:
                bar.append(stack.enter_context(click.progressbar(length=total, label=label, file=sys.stderr)))
            bar[0].length = total
            bar[0].update(n - done[0])
            done[0] = n
            if finish_at_total and n >= total:
                stack.close()  # the bar's own exit: its last draw and the end of its line, once
                done[0] = -1

        yield progress


def _engine(force: bool = False, quiet: bool = False, few_queries: bool = False):
    """The search engine over the corpus; rebuilds a stale index with a progress bar.

    ``few_queries``: the command encodes a query or two (``search QUERY``), not a batch.
    """
    from .embed import default_embedder
    from .search import open_engine

    def on_rebuild(reason: str) -> None:
        click.echo(f"Rebuilding the search index: {reason}.", err=True)

    def on_query_fallback(reason: str) -> None:
        click.echo(f"The query model cannot be used ({reason}): searching with sentence-transformers "
                   "and exporting it again.", err=True)

    corpus = load_corpus()
    with progress_bar("Embedding") as progress:
        return open_engine(corpus, default_embedder(), force=force, progress=None if quiet else progress,
                           on_rebuild=None if quiet else on_rebuild, on_query_fallback=None if quiet else on_query_fallback,
                           few_queries=few_queries)


@click.group(cls=MlsdGroup, context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="mlsd")
def cli() -> None:
    """mlsd: explore ML system design topics, the interview flow and company case studies.

    Everything written (the index, imported lists) goes under $MLSD_HOME when it is set.

    Example: mlsd search "cold start" --k 5
    """


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def stats(as_json: bool) -> None:
    """Count steps, topics, companies, resources and questions in the bundled data.

    Example: mlsd stats --json
    """
    data = load_corpus().stats()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    totals = data["totals"]
    click.echo("Totals: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in totals.items()))
    click.echo("\nResources by company:")
    for name, count in data["by_company"].items():
        click.echo(f"  {name:<28} {count:>4}")
    click.echo("\nResources by kind:")
    for name, count in data["by_kind"].items():
        click.echo(f"  {name:<28} {count:>4}")
    click.echo("\nTopic tree (root: topics, resources):")
    for name, row in data["by_topic"].items():
        click.echo(f"  {name:<40} {row['topics']:>3} {row['resources']:>4}")
    click.echo("\nFlow steps (checklist items, resources, questions):")
    for name, row in data["by_step"].items():
        click.echo(f"  {name:<40} {row['checklist_items']:>3} {row['resources']:>4} {row['questions']:>4}")


@cli.command("build-index")
@click.option("--force", is_flag=True, help="Re-encode everything even if the index is current.")
def build_index_command(force: bool) -> None:
    """Build (or check) the search index under $MLSD_HOME/index.

    Example: mlsd build-index --force
    """
    engine = _engine(force=force)
    m = engine.index.manifest
    click.echo(
        f"Index {engine.index.status}: {m['item_count']} items, {m['index_type']}, model {m['model']}, "
        f"in {engine.index.folder}; queries encoded by: {engine.query_status}"
    )


DEADLINE_OPTION = click.option(
    "--deadline", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
    help="Give up on a download (or one link) after this many seconds in all [default: $MLSD_FETCH_DEADLINE or 60].")


# Up to this many queries, an encoder cheap to open beats one fast per query (break-even at ~12:
# mlsd.query_encoder.session_options).
FEW_QUERIES = 10


def _filters(types, companies, kinds, topics, steps, year_min, year_max, hide_undated):
    from .search import Filters

    return Filters(list(types), list(companies), list(kinds), list(topics), list(steps), year_min, year_max,
                   undated=not hide_undated)


def _print_hits(hits, as_json: bool, query: str | None = None) -> None:
    if as_json:
        payload = [h.to_dict() for h in hits]
        click.echo(json.dumps({"query": query, "hits": payload} if query is not None else {"hits": payload}, ensure_ascii=False))
        return
    if not hits:
        click.echo("No results.")
        return
    if hits[0].match == "weak":
        click.echo("Nothing in your library is about this; the closest items are below. "
                   "Import a list (mlsd import) to search more.")
    for n, h in enumerate(hits, start=1):
        meta = " · ".join(x for x in (h.type, h.company, h.kind, str(h.year) if h.year else None) if x)
        why = ", ".join(h.matched_terms) if h.matched_terms else "semantic"
        match = f"{h.match} match {h.strength:.2f}" if h.strength is not None else f"similarity {h.score:.3f}"
        click.echo(f"{n:>2}. {h.title}  [{meta}]  {match}  ({why})")
        click.echo(f"    {h.id}" + (f"  {h.url}" if h.url else ""))


FILTER_OPTIONS = [
    click.option("--type", "types", multiple=True, help="Item type: topic, step, question, resource (repeatable)."),
    click.option("--company", "companies", multiple=True, help="Company name or alias (repeatable)."),
    click.option("--kind", "kinds", multiple=True, help="Resource kind, e.g. talk-video (repeatable)."),
    click.option("--topic", "topics", multiple=True, help="Topic id, subtree included (repeatable)."),
    click.option("--step", "steps", multiple=True, help="Flow step id (repeatable)."),
    click.option("--year-min", type=int, default=None, help="Earliest year."),
    click.option("--year-max", type=int, default=None, help="Latest year."),
    click.option("--hide-undated", is_flag=True, help="With a year range: leave out items without a year."),
]


def _with_filters(func):
    for option in reversed(FILTER_OPTIONS):
        func = option(func)
    return func


@cli.command()
@click.argument("query", required=False)
@click.option("--k", default=10, show_default=True, type=click.IntRange(1, 1000), help="Number of results.")
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@_with_filters
@click.option("--batch", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="File with one query per line.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object per line with --batch).")
def search(query, k, mode, types, companies, kinds, topics, steps, year_min, year_max, hide_undated, batch, as_json) -> None:
    """Search topics, flow steps, questions and case studies.

    Example: mlsd search "how does netflix pick artwork" --company Netflix --k 5
    """
    if (query is None) == (batch is None):
        raise click.UsageError("Give either a QUERY or --batch FILE.")
    if batch is None:
        if not query.strip():
            raise click.ClickException('The query is empty: give words to search for, e.g. mlsd search "cold start".')
        queries = [query]
    else:
        try:
            queries = [q for q in batch.read_text(encoding="utf-8").splitlines() if q.strip()]
        except UnicodeDecodeError as exc:
            raise click.ClickException(f"{batch}: is not valid UTF-8 ({exc.reason} at byte {exc.start}). Save it as UTF-8.") from None
        except OSError as exc:
            raise click.ClickException(f"{batch}: cannot be read ({exc.strerror}).") from None
        if not queries:
            raise click.ClickException(f"{batch} holds no queries (it is empty or blank): write one query per line.")
    engine = _engine(quiet=as_json, few_queries=len(queries) <= FEW_QUERIES)
    filters = _filters(types, companies, kinds, topics, steps, year_min, year_max, hide_undated)
    for q in queries:
        _print_hits(engine.search(q, k=k, mode=mode, filters=filters), as_json, q)


@cli.command()
@click.argument("item_id")
@click.option("--k", default=10, show_default=True, type=click.IntRange(1, 1000), help="Number of results.")
@_with_filters
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def related(item_id, k, types, companies, kinds, topics, steps, year_min, year_max, hide_undated, as_json) -> None:
    """Items nearest to ITEM_ID (a topic, step, question or resource id).

    Example: mlsd related cold-start --type resource --k 5
    """
    engine = _engine(quiet=as_json, few_queries=True)  # no query to encode
    hits = engine.related(item_id, k=k, filters=_filters(types, companies, kinds, topics, steps, year_min, year_max, hide_undated))
    _print_hits(hits, as_json)


@cli.command("check-links")
@click.option("--source", default=None, help="Only the resources of this source ('bundled' or an imported list).")
@click.option("--older-than", "older_than", type=click.IntRange(min=0), default=None,
              help="Only recheck links whose last check is older than this many days.")
@click.option("--json", "as_json", is_flag=True, help="Print every result as JSON.")
@DEADLINE_OPTION
def check_links_command(source, older_than, as_json, deadline) -> None:
    """Check that every resource link still answers; remember the results under $MLSD_HOME.

    404/410 is dead; 401/403/429, 5xx and timeouts are unknown (bot walls are not death), and so
    are links to private addresses, which are never fetched (see MLSD_ALLOW_PRIVATE_URLS).

    Example: mlsd check-links --older-than 7
    """
    from .links import check_links
    from .linkstore import STATUSES, LinkStore, archive_url

    corpus = load_corpus()
    resources = [r for r in corpus.resources if source is None or r.source == source]
    if source is not None and not resources:
        known = ", ".join(sorted({r.source for r in corpus.resources}))
        raise click.ClickException(f"No resources from source '{source}'. Known sources: {known}.")
    urls = [r.url for r in resources]
    store = LinkStore()
    with progress_bar("Checking links") as progress:
        results = check_links(urls, store=store, older_than_days=older_than, deadline=deadline,
                              progress=lambda done, total, status: progress(done, total))
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results], ensure_ascii=False))
        return
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    click.echo(f"Checked {len(results)} links: " + ", ".join(f"{counts[s]} {s}" for s in STATUSES if s in counts))
    title_of = {r.url: r.title for r in resources}
    for r in results:
        if r.status == "dead":
            click.echo(f"  dead: {title_of.get(r.url, r.url)} ({r.http_status}) {r.url}\n        archive: {archive_url(r.url)}")

@cli.command("import")
@click.argument("source")
@click.option("--format", "list_format", type=click.Choice(FORMATS),
              default="auto", show_default=True, help="How the list is written; detected by default.")
@click.option("--name", default=None, help="Name of the source in the library (kebab-case); from the URL or file by default.")
@click.option("--replace", is_flag=True, help="Replace a different list already imported under NAME.")
@DEADLINE_OPTION
@click.option("--enrich", is_flag=True,
              help="Ask each new link the list gives no summary for its page's title and description, and search "
                   "by the description (marked as taken from the page).")
@click.option("--enrich-deadline", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
              help="With --enrich: give up on the pages not fetched after this many seconds in all [default: 120].")
def import_command(source: str, list_format: str, name: str | None, replace: bool, deadline: float | None,
                   enrich: bool, enrich_deadline: float | None) -> None:
    """Import a curated list of case studies from a URL, a file, or a known list's name.

    The list (CSV, Markdown list or Markdown table) is stored in $MLSD_HOME/library/NAME.json,
    links already in the library are left out, and the new items are added to the search index.
    Importing the same list (same URL or file) under its name again refreshes it; a different
    list under a taken name needs --replace. URLs on private addresses (this machine, the local
    network) are refused unless MLSD_ALLOW_PRIVATE_URLS is set. See `mlsd sources` for known lists.

    With --enrich, a list of bare titles gets summaries: each new link without one is asked for
    its page's description (at most 2 requests at a time per site, the first 256 kB of HTML,
    public addresses only). A page that fails leaves its item without a summary; descriptions
    taken by an earlier import of the list are kept, not fetched again.

    Example: mlsd import applied-ml --enrich --enrich-deadline 300
    """
    from .errors import NameTakenError
    from .library import Enrich, import_source

    if enrich_deadline is not None and not enrich:
        raise click.UsageError("--enrich-deadline is only used with --enrich")
    try:
        with progress_bar("Fetching pages", finish_at_total=True) as page_progress, progress_bar("Embedding") as progress:
            report = import_source(source, format=list_format, name=name, progress=progress, replace=replace,
                                   deadline=deadline,
                                   enrich=Enrich(enrich_deadline, page_progress) if enrich else None)
    except NameTakenError as exc:
        raise click.ClickException(
            f"'{exc.name}' already holds a different list (from {exc.existing_origin}); add --replace to replace "
            "it, or choose another name with --name") from None
    click.echo(
        f"Imported {report.new} new items from {report.origin} into '{report.name}' "
        f"({report.duplicates} duplicates, {len(report.skipped)} skipped)"
    )
    if report.enrichment is not None:
        click.echo(report.enrichment.summary())
        for example in report.enrichment.examples:
            click.echo(f"  not enriched: {example}", err=True)
        if report.enrichment.failed > len(report.enrichment.examples):
            click.echo(f"  ... and {report.enrichment.failed - len(report.enrichment.examples)} more", err=True)
    if report.path is None:
        click.echo("Nothing was written: every item is already in the library.")
    for reason in report.skipped[:10]:
        click.echo(f"  skipped: {reason}", err=True)
    if len(report.skipped) > 10:
        click.echo(f"  ... and {len(report.skipped) - 10} more skipped rows", err=True)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the sources and the known lists as JSON.")
def sources(as_json: bool) -> None:
    """List the imported sources, and known public lists you can import by name.

    Example: mlsd sources --json
    """
    from .library import PRESETS, list_sources

    found = list_sources()
    rows = [{"name": s.name, "items": len(s.resources), "origin": s.origin, "format": s.format,
             "imported_at": s.imported_at} for s in found]
    presets = [{"name": p.name, "url": p.url, "license": p.license, "description": p.description} for p in PRESETS.values()]
    if as_json:
        click.echo(json.dumps({"sources": rows, "known_lists": presets}, indent=2, ensure_ascii=False))
        return
    if rows:
        width = max(4, *(len(s.name) for s in found))
        click.echo(f"{'NAME':<{width}}  {'ITEMS':>5}  {'IMPORTED AT':<25}  ORIGIN")
        for r in rows:
            click.echo(f"{r['name']:<{width}}  {r['items']:>5}  {r['imported_at']:<25}  {r['origin']}")
    else:
        click.echo("No lists imported yet.")
    click.echo("\nKnown public lists (import one with: mlsd import NAME):")
    for p in presets:
        click.echo(f"  {p['name']}: {p['description']} ({p['license']})\n    {p['url']}")


@cli.command()
@click.argument("name")
def remove(name: str) -> None:
    """Remove an imported source and its items from the library and the search index.

    Example: mlsd remove applied-ml
    """
    from .library import remove_source

    count = remove_source(name)
    click.echo(f"Removed '{name}' ({count} items)")


@cli.command("assign-topics")
@click.option("--json", "as_json", is_flag=True, help="Print the counts per list as JSON.")
def assign_topics_command(as_json: bool) -> None:
    """File every imported list's items under their nearest topics and flow steps.

    An import files its items by itself; this files lists imported before that existed, or
    again after the bundled topics changed. Unchanged lists are left as they are.

    Example: mlsd assign-topics
    """
    from .library import assign_topics

    reports = assign_topics()
    if as_json:
        click.echo(json.dumps([vars(r) for r in reports], indent=2))
        return
    if not reports:
        click.echo("No lists imported yet.")
        return
    for r in reports:
        state = "filed again" if r.changed else "unchanged"
        click.echo(f"{r.name}: {r.with_topic} of {r.items} items under a topic, {r.with_step} under a flow step ({state})")


@cli.group()
def progress() -> None:
    """Back up and restore reading progress and practice sessions ($MLSD_HOME/progress.db).

    Example: mlsd progress export ~/mlsd-progress.json
    """


def _counted(counts: dict[str, int]) -> str:
    def plural(n: int, word: str) -> str:
        return f"{n} {word}" + ("" if n == 1 else "s")

    return f"{plural(counts['reading'], 'resource')} and {plural(counts['sessions'], 'practice session')}"


@progress.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def progress_export(file: Path) -> None:
    """Write every read mark, bookmark, note and practice session to FILE (JSON).

    Example: mlsd progress export ~/mlsd-progress.json
    """
    from .backup import export_file
    from .progress import ProgressStore

    try:
        counts = export_file(ProgressStore(), file)
    except OSError as exc:  # its text would name the temporary file, not the one asked for
        raise click.ClickException(f"Cannot write {file}: {exc.strerror or exc}.") from None
    click.echo(f"Exported {_counted(counts)} to {file}")


@progress.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def progress_import(file: Path) -> None:
    """Merge a backup made by `mlsd progress export` (newer entries win; nothing is deleted).

    Example: mlsd progress import ~/mlsd-progress.json
    """
    from .backup import import_file
    from .progress import ProgressStore

    counts = import_file(ProgressStore(), file)
    click.echo(f"Imported {_counted(counts)} from {file}")


def main() -> None:  # pragma: no cover - console script entry
    cli()


if __name__ == "__main__":  # pragma: no cover
    main()
