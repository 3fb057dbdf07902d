"""Runs in the Label Studio tools venv: drive a live server with label-studio-sdk as an annotator would.

Usage: python labelstudio_driver.py URL TOKEN CONFIG.xml TASKS.json ANSWERS.json EXPORT.json
ANSWERS maps "<image>#<superpixel>" to the list of class names to choose ([] skips the task).
"""

import json
import sys
from pathlib import Path

from label_studio_sdk import LabelStudio

url, token, config, tasks, answers, export = sys.argv[1:7]
client = LabelStudio(base_url=url, api_key=token)
project = client.projects.create(title="albench loop", label_config=Path(config).read_text())
client.projects.import_tasks(id=project.id, request=json.loads(Path(tasks).read_text()), return_task_ids=True)
choices = json.loads(Path(answers).read_text())
for task in client.tasks.list(project=project.id):
    chosen = choices[task.data["albench_region"]]
    result = [{"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": chosen}}]
    client.annotations.create(id=task.id, result=result if chosen else [], was_cancelled=not chosen, lead_time=2.0)
data = b"".join(client.projects.exports.download_sync(id=project.id, export_type="JSON", download_all_tasks=True))
Path(export).write_bytes(data)
print(f"project {project.id}: {len(choices)} tasks answered and exported")
