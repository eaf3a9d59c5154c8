-- Sources whose live playlist, segments and recordings anyone may watch without a token.
ALTER TABLE sources ADD COLUMN public BIGINT NOT NULL DEFAULT 0;
