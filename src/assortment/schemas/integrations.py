"""Request bodies of `/v2/integrations` (SPEC §11.1): flat resources, as upstream, no `attributes`."""

from __future__ import annotations

from typing import Any

from pydantic import StrictBool, StrictStr

from assortment.schemas.common import RequestModel


class IntegrationConfiguration(RequestModel):
    url: StrictStr | None = None
    secret_key: StrictStr | None = None


class IntegrationData(RequestModel):
    type: StrictStr | None = None
    name: StrictStr | None = None
    description: StrictStr | None = None
    enabled: StrictBool | None = None
    integration_type: StrictStr | None = None
    observes: list[StrictStr] | None = None
    configuration: IntegrationConfiguration | None = None


class IntegrationRequest(RequestModel):
    data: IntegrationData


def fields_sent(data: IntegrationData) -> dict[str, Any]:
    """What the request named, `configuration` flattened to `url`/`secret_key`."""
    sent: dict[str, Any] = {name: getattr(data, name) for name in data.model_fields_set if name != "configuration"}
    if "configuration" in data.model_fields_set:
        configuration = data.configuration
        if configuration is None:
            sent["configuration"] = None
        else:
            sent.update({name: getattr(configuration, name) for name in configuration.model_fields_set})
    return sent
