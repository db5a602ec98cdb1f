CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    R1 INTEGER,
    R2 INTEGER,
    R3 VARCHAR(8),
    R4 VARCHAR(8),
    R5 VARCHAR(8));
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM
        NULLIF(4,2),
        NULLIF(4,4),
        NULLIF('amy','fred'),
        NULLIF('amy', cast(null as varchar(3))),
        NULLIF(cast(null as varchar(3)),'fred')
    FROM "SOURCE_SQL_STREAM_001";
