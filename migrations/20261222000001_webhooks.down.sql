DROP TABLE notified_events;
DROP TABLE webhooks;
