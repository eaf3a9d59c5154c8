-- On an edge: confirmations per rendition (existing ones are the primary rendition's).
CREATE TABLE edge_forwarded_by_rendition (
    source_id TEXT NOT NULL,
    rendition TEXT NOT NULL,
    msn       BIGINT NOT NULL,
    PRIMARY KEY (source_id, rendition, msn)
);
INSERT INTO edge_forwarded_by_rendition SELECT source_id, 'index', msn FROM edge_forwarded;
DROP TABLE edge_forwarded;
ALTER TABLE edge_forwarded_by_rendition RENAME TO edge_forwarded;
