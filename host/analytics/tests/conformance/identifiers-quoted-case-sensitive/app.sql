CREATE OR REPLACE STREAM ExampleStream (col1 VARCHAR(4));

-- Not found. Quoted names are case-sensitive.
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "examplestream"
    SELECT * FROM SOURCE_SQL_STREAM_001;
