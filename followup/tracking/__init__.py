"""What candidates do after a message: SendGrid's signed events and Inbound Parse replies checked
and normalised, the intent of a reply, and each candidate's engagement. Plain Python: the web
package and `followup events ingest` are its adapters, the ledger (store) keeps what it reads."""
