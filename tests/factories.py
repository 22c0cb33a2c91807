"""factory_boy factories for the whole suite."""

import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

DEFAULT_PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email_verified = True
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "mailings.Client"

    owner = factory.SubFactory(UserFactory)
    email = factory.Sequence(lambda n: f"client{n}@example.org")
    full_name = factory.Faker("name")


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "mailings.Tag"

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"tag {n}")


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "mailings.Message"

    owner = factory.SubFactory(UserFactory)
    subject = factory.Sequence(lambda n: f"News #{n}")
    body = "Hello {full_name}, here is what is new."


class MailingFactory(factory.django.DjangoModelFactory):
    """A mailing as the ORM stores it; tests of behaviour go through the services instead."""

    class Meta:
        model = "mailings.Mailing"
        skip_postgeneration_save = True

    owner = factory.SubFactory(UserFactory)
    message = factory.SubFactory(MessageFactory, owner=factory.SelfAttribute("..owner"))
    start_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(hours=1))
    end_at = factory.LazyAttribute(lambda o: o.start_at + dt.timedelta(days=30))
    periodicity = "once"
    time_zone = factory.LazyAttribute(lambda o: o.owner.time_zone)

    @factory.post_generation
    def clients(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.clients.set(extracted)

    @factory.post_generation
    def tags(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.tags.set(extracted)


def make_manager(**kwargs):
    """A manager as SPEC R-AUTH-5 defines one: the two custom permissions, nothing else."""
    from django.contrib.auth.models import Permission

    user = UserFactory(**kwargs)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="mailings", codename__in=["view_all_mailings", "disable_mailing"]
        )
    )
    return type(user).objects.get(pk=user.pk)  # fresh instance: no stale permission cache
