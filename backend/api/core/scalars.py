"""Scalars of our own."""

import graphene
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from graphql import GraphQLError


class Upload(graphene.Scalar):
    """A file sent with the GraphQL multipart request spec (`operations`, `map`, then the file parts); the
    view puts the uploaded file where `map` says. It cannot be written inline in a document or sent as
    JSON."""

    @staticmethod
    def serialize(value):
        raise GraphQLError(_("An upload cannot be returned."))

    @staticmethod
    def parse_literal(node, _variables=None):
        raise GraphQLError(_("Send a file as a multipart request variable, not in the document."))

    @staticmethod
    def parse_value(value):
        if not isinstance(value, UploadedFile):
            raise GraphQLError(_("Expected a file sent as a multipart request part."))
        return value
