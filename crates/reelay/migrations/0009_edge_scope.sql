-- The sources each edge may feed (issue 33): an edge forwards these and nothing else.
CREATE TABLE edge_sources (
    edge_id   TEXT NOT NULL,
    source_id TEXT NOT NULL,
    PRIMARY KEY (edge_id, source_id)
);

-- A source already bound to an edge stays that edge's to feed.
INSERT INTO edge_sources (edge_id, source_id)
    SELECT edge_id, id FROM sources WHERE edge_id IS NOT NULL;

-- An encoder pushed to this source directly: no edge may claim it (an operator may still
-- give it to one, which clears this).
ALTER TABLE sources ADD COLUMN fed_directly BIGINT NOT NULL DEFAULT 0;
