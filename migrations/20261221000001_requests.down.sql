DROP TABLE requests;
DROP TYPE request_status;
DROP TYPE request_kind;
