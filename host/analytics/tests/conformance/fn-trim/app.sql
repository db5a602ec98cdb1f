CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    R1 VARCHAR(32),
    R2 VARCHAR(32),
    R3 VARCHAR(32),
    R4 VARCHAR(32),
    R5 VARCHAR(32),
    R6 VARCHAR(32));
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM
        TRIM(' Trim front and back '),
        TRIM(BOTH FROM ' Trim front and back '),
        TRIM(BOTH ' ' FROM ' Trim front and back '),
        TRIM(LEADING 'x' FROM 'xxxTrim frontxxx'),
        TRIM(TRAILING 'x' FROM 'xxxTrimxBackxxx'),
        TRIM(BOTH 'y' FROM 'xxxNo y to trimxxx')
    FROM "SOURCE_SQL_STREAM_001";
