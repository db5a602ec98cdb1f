-- The speeding scenario's Kinesis Data Analytics SQL application, over the records the
-- `speeding` rule's kinesis action writes to stream `speeding-alerts` (the traffic message,
-- every value a string as the Pi sends it, plus the owner's first_name, last_name and
-- myphone joined by owner-enrich). schema.json maps them to SOURCE_SQL_STREAM_001.

-- (a) Speeding cars per city per minute: a tumbling window. Each group is emitted once
-- stream time passes the end of its minute, stamped with that end.
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    WINDOW_START  TIMESTAMP,
    CITY          VARCHAR(32),
    SPEEDING_CARS INTEGER,
    MAX_SPEED     INTEGER);
CREATE OR REPLACE PUMP "PER_CITY_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' MINUTE) AS WINDOW_START,
        CITY, COUNT(*) AS SPEEDING_CARS, MAX(SPEED) AS MAX_SPEED
    FROM "SOURCE_SQL_STREAM_001"
    GROUP BY CITY, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' MINUTE);

-- (b) The average speed of the state's speeding cars over the last minute: a sliding
-- window, one row out for each row in, computed over the rows of the same state whose
-- ROWTIME is at most one minute before it.
CREATE OR REPLACE STREAM "AVERAGE_SPEED_STREAM" (
    STATE                VARCHAR(32),
    CITY                 VARCHAR(32),
    LICENSE_PLATE        VARCHAR(16),
    SPEED                INTEGER,
    AVG_SPEED_1MIN       DOUBLE,
    STATE_CARS_1MIN      INTEGER);
CREATE OR REPLACE PUMP "AVERAGE_SPEED_PUMP" AS INSERT INTO "AVERAGE_SPEED_STREAM"
    SELECT STREAM STATE, CITY, LICENSE_PLATE, SPEED,
        AVG(CAST(SPEED AS DOUBLE)) OVER LAST_MINUTE AS AVG_SPEED_1MIN,
        COUNT(*) OVER LAST_MINUTE AS STATE_CARS_1MIN
    FROM "SOURCE_SQL_STREAM_001"
    WINDOW LAST_MINUTE AS (PARTITION BY STATE RANGE INTERVAL '1' MINUTE PRECEDING);
