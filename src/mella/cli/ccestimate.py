"""``mella cc-estimate``: what a language-targeted Common Crawl harvest would read and yield."""

from __future__ import annotations

import click

from mella.cli._stage import split_list


@click.command("cc-estimate")
@click.argument("crawl")
@click.option("--langs", required=True, multiple=True, callback=split_list, help="Languages (mella tags), comma-separated.")
@click.option("--cc-base", default=None, help="Where crawls lie (default https://data.commoncrawl.org/ or MELLA_CC_BASE).")
@click.option("--index-files", type=click.IntRange(min=1), default=None,
              help="Scan a seeded sample of this many index files and scale up (default: all of them).")
@click.option("--sample-pages", type=click.IntRange(min=0), default=20, show_default=True,
              help="Pages per language read to measure alts per page.")
@click.option("--cc-match", type=click.Choice(["any", "primary"]), default="any", show_default=True,
              help="Any detected language of a page, or only its primary one.")
@click.option("--cc-tlds", multiple=True, callback=split_list, default=None, help="Only hosts under these TLDs.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--allow-hosts", multiple=True, callback=split_list, default=None, help="Hosts exempt from the private-address guard.")
@click.option("--json", "as_json", is_flag=True, help="Print the estimate as JSON.")
def command(crawl, langs, cc_base, index_files, sample_pages, cc_match, cc_tlds, seed, allow_hosts, as_json) -> None:
    """Estimate from the index alone: per language, the pages of CRAWL (cc:CC-MAIN-YYYY-WW) detected in it,
    their bytes, the WARC files they lie in, and the alts to expect (measured on a sample of the pages)."""
    import json

    from mella.collect.ccestimate import estimate, format_estimate
    from mella.net.client import NetOptions

    net = NetOptions(allow_hosts=tuple(allow_hosts or ()))
    result = estimate(crawl, langs, base=cc_base, net=net, index_files=index_files, sample_pages=sample_pages,
                      match=cc_match, tlds=cc_tlds or None, seed=seed)
    click.echo(json.dumps(result, indent=2) if as_json else format_estimate(result))
