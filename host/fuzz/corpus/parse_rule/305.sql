SELECT foo(a), b
FROM 'a/b'
WHERE bar(c) AND aws_lambda('x', *)