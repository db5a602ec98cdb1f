-- Create a stream. Stream name specified without quotes,
-- which defaults to uppercase.
CREATE OR REPLACE STREAM ExampleStream (col1 VARCHAR(4));

-- example 1: OK, stream name interpreted as uppercase.
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO ExampleStream
    SELECT * FROM SOURCE_SQL_STREAM_001;

-- example 2: OK, stream name interpreted as uppercase.
CREATE OR REPLACE PUMP "STREAM_PUMP_2" AS INSERT INTO examplestream
    SELECT * FROM   source_sql_stream_001;

-- example 3: Ok.
CREATE OR REPLACE PUMP "STREAM_PUMP_3" AS INSERT INTO EXAMPLESTREAM
    SELECT * FROM   SOURCE_SQL_STREAM_001;
