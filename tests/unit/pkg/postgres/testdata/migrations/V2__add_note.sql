-- A comment with "quotes", a backslash \ and a ${cmake_like} reference.
ALTER TABLE items ADD COLUMN note text;
