"""Notifications to the assigned caseworker, by e-mail and by signed webhook."""
