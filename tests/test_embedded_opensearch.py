"""The embedded node is a real OpenSearch 2.19 with the modules Lantern relies on."""

from __future__ import annotations

from opensearchpy import OpenSearch

from lantern import embedded
from lantern.settings import Settings


def test_root_reports_opensearch_2_19(client: OpenSearch) -> None:
    info = client.info()
    assert info["version"]["distribution"] == "opensearch"
    assert info["version"]["number"].startswith("2.19.")


def test_modules_loaded(client: OpenSearch, settings: Settings) -> None:
    # edge_ngram/asciifolding come from analysis-common.
    tokens = client.indices.analyze(
        body={
            "tokenizer": "standard",
            "filter": ["lowercase", "asciifolding", {"type": "edge_ngram", "min_gram": 2, "max_gram": 4}],
            "text": "Zoë",
        }
    )
    assert [t["token"] for t in tokens["tokens"]] == ["zo", "zoe"]
    # percolator + search_as_you_type (mapper-extras) mappings are accepted.
    name = f"{settings.index_prefix}modules-probe"
    client.indices.create(
        index=name,
        body={
            "mappings": {
                "properties": {
                    "q": {"type": "percolator"},
                    "t": {"type": "search_as_you_type"},
                    "body": {"type": "text"},
                }
            }
        },
    )
    try:
        client.index(index=name, id="1", body={"q": {"match": {"body": "machete"}}}, refresh=True)
        hits = client.search(
            index=name,
            body={"query": {"percolate": {"field": "q", "document": {"body": "a machete was seen"}}}},
        )["hits"]["hits"]
        assert [h["_id"] for h in hits] == ["1"]
        # painless (lang-painless)
        res = client.search(
            index=name,
            body={"size": 0, "aggs": {"s": {"sum": {"script": {"source": "2 * 21"}}}}},
        )
        assert res["aggregations"]["s"]["value"] == 42.0
    finally:
        client.indices.delete(index=name)


def test_status_reports_running_node(opensearch_node: Settings) -> None:
    if not opensearch_node.embedded:
        return
    statuses = embedded.status(opensearch_node)
    assert statuses[0].alive
    assert statuses[0].version is not None and statuses[0].version.startswith("2.19.")
    # start twice is harmless: same pid afterwards
    pid = statuses[0].pid
    embedded.start(opensearch_node, nodes=1)
    assert embedded.status(opensearch_node)[0].pid == pid
