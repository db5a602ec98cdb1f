CREATE OR REPLACE STREAM OrderStream (orderId INTEGER, ticker VARCHAR(4), amount INTEGER);
CREATE OR REPLACE STREAM TradeStream (tradeId INTEGER, orderId INTEGER, ticker VARCHAR(4), amount INTEGER);
CREATE OR REPLACE PUMP "ORDER_PUMP" AS INSERT INTO OrderStream
    SELECT STREAM order_id, ticker, amount FROM "SOURCE_SQL_STREAM_001" WHERE record_type = 'order';
CREATE OR REPLACE PUMP "TRADE_PUMP" AS INSERT INTO TradeStream
    SELECT STREAM trade_id, order_id, ticker, amount FROM "SOURCE_SQL_STREAM_001" WHERE record_type = 'trade';
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (orderId INTEGER, ticker VARCHAR(4), orderAmount INTEGER, tradeAmount INTEGER);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM
     o.orderId, o.ticker, o.amount AS orderAmount,
     t.amount AS tradeAmount
FROM OrderStream AS o
JOIN TradeStream OVER (RANGE INTERVAL '1' MINUTE PRECEDING) AS t
ON   o.orderId = t.orderId;
