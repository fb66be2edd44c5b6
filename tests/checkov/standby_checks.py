# A checkov check for the quickstart's files, loaded with --external-checks-dir: it reads
# `file_permission` from a standby plan's planned_values, as it would from Terraform's.
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck


class NotWorldWritable(BaseResourceCheck):
    def __init__(self):
        super().__init__(
            name="Files standby writes are not world-writable",
            id="CKV_STANDBY_1",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=["local_file"],
        )

    def scan_resource_conf(self, conf):
        perm = conf.get("file_permission", [None])[0]
        if isinstance(perm, str) and int(perm, 8) & 0o002 == 0:
            return CheckResult.PASSED
        return CheckResult.FAILED


check = NotWorldWritable()
