DROP TABLE review_comments;
DROP TYPE review_side;
