"""The crash harness: a fork server that runs pipeline phases in killable children, the kill
points it instruments in them, and the parent's side that schedules kills and compares states.

Nothing here is imported by the engine: the kill points wrap engine functions from outside, in
the child process only.
"""
