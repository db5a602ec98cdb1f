SELECT a -- comment
FROM 'a/b' /* block */ WHERE b