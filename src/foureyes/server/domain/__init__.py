"""The domain: what foureyes does, with no HTTP, no wire format and no channel in it.

Each service composes one unit of work (``Database.write`` / ``write_grouped``) from the storage
repositories and ends it with ``Emitter.emit(tx, event)``, the one writer of change records::

    Items / Decisions / Escalations / Keys        (domain services)
        └─ db.write_grouped(closure)              one transaction
             ├─ storage repositories              rows
             └─ emit(tx, event)
                  ├─ events row                   the change log (project, actor)
                  ├─ sink.fan_out(tx, event)      outbox rows, same transaction
                  └─ tx.after_commit(...)         push topics, wake the outbox worker
"""
