"""One flow per domain action: it finds the incident, asks the policy, applies the change once, records it
on the timeline and queues its Slack work. Commands, buttons, forms, shortcuts, events and hooks only parse
what Slack sent and call a flow; they never decide."""
