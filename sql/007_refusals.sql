-- Commands refused at intake (malformed, too large, invalid, no credentials for their project, a command id
-- that already names another command): each refusal with its reason, so that `status <command id>` and
-- `refusals` show what otherwise only the dead-letter queue holds. No body is kept: the dead letter has it.

CREATE TABLE refusals (
    id         bigserial PRIMARY KEY,
    command_id text,                 -- NULL when the message named none that could be read
    message_id text,                 -- the AMQP message id, when the publisher set one
    reason     text NOT NULL,
    size_bytes integer NOT NULL,     -- of the message's body
    refused_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX refusals_command ON refusals (command_id, id) WHERE command_id IS NOT NULL;
CREATE INDEX refusals_message ON refusals (message_id, id) WHERE message_id IS NOT NULL;
