"""What the dispatch services refuse, and why: the message is for the user, in the
language active when it was raised (the request's, or the socket's). The API and the
sockets turn each into its status or error frame (dispatch/api.py, consumers.py)."""


class DispatchError(Exception):
    """A request the current state refuses."""


class OfferClosed(DispatchError):
    pass


class NotYours(DispatchError):
    pass


class InvalidTransition(DispatchError):
    pass


class ResourceBusy(DispatchError):
    pass
